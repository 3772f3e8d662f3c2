using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;

namespace BackfillStudio.Web.Access;

/// <summary>The user of a circuit, for the audit trail and for checking a role on the server before an action runs.</summary>
public sealed class CurrentUser(AuthenticationStateProvider authentication, IAuthorizationService authorization)
{
    public async Task<ClaimsPrincipal> GetAsync() => (await authentication.GetAuthenticationStateAsync()).User;

    public async Task<string?> NameAsync() => (await GetAsync()).Identity?.Name;

    public async Task<bool> IsAllowedAsync(string policy) => (await authorization.AuthorizeAsync(await GetAsync(), policy)).Succeeded;
}
