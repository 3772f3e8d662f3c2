using System.Security.Claims;
using BackfillStudio.Engine.Persistence;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Web.Access;

/// <summary>
/// Re-checks an open circuit's user every <c>Auth:RevalidateSeconds</c> (60): once an admin disables the user or
/// changes their role (both renew the security stamp), the circuit loses its sign-in and the page sends them to login.
/// </summary>
public sealed class SecurityStampRevalidator(
    ILoggerFactory loggerFactory, IServiceScopeFactory scopes, IOptions<IdentityOptions> identity, IConfiguration configuration)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    public static TimeSpan Interval(IConfiguration configuration) => TimeSpan.FromSeconds(configuration.GetValue("Auth:RevalidateSeconds", 60));

    protected override TimeSpan RevalidationInterval => Interval(configuration);

    protected override async Task<bool> ValidateAuthenticationStateAsync(AuthenticationState state, CancellationToken ct)
    {
        AsyncServiceScope scope;
        try
        {
            scope = scopes.CreateAsyncScope();
        }
        catch (ObjectDisposedException)
        {
            return true; // the app is shutting down; the circuit goes with it
        }
        await using var _ = scope;
        var users = scope.ServiceProvider.GetRequiredService<UserManager<AppUser>>();
        if (await users.GetUserAsync(state.User) is not { } user || await users.IsLockedOutAsync(user)) return false;
        var stamp = state.User.FindFirstValue(identity.Value.ClaimsIdentity.SecurityStampClaimType);
        return stamp == await users.GetSecurityStampAsync(user);
    }
}
