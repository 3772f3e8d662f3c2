using BackfillStudio.Engine.Persistence;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace BackfillStudio.Web.Access;

/// <summary>
/// Sign-in for people (ASP.NET Core Identity, cookie) and API keys for scripts (bearer), with every endpoint
/// requiring a signed-in user unless it is explicitly anonymous (login page, health, static files).
/// </summary>
public static class AccessServiceCollectionExtensions
{
    private const string SelectScheme = "CookieOrApiKey";

    public static IServiceCollection AddBackfillAccess(this IServiceCollection services, IConfiguration configuration)
    {
        // Identity's stores want the context as a scoped service; the rest of the app uses the factory.
        services.TryAddScoped(sp => sp.GetRequiredService<IDbContextFactory<ConfigDbContext>>().CreateDbContext());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ApiKeyService>();
        services.AddScoped<UserAdminService>();
        services.AddScoped<CurrentUser>();

        services.AddAuthentication(o =>
            {
                o.DefaultScheme = SelectScheme;
                o.DefaultChallengeScheme = SelectScheme;
            })
            .AddPolicyScheme(SelectScheme, "Cookie or API key", o => o.ForwardDefaultSelector = context =>
                context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? ApiKeyAuthenticationHandler.SchemeName
                    : IdentityConstants.ApplicationScheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddIdentityCookies();
        services.AddIdentityCore<AppUser>(o =>
            {
                o.Password.RequiredLength = 12;
                o.Lockout.MaxFailedAccessAttempts = 5;
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(15);
                o.Lockout.AllowedForNewUsers = true;
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<ConfigDbContext>()
            .AddSignInManager();
        services.ConfigureApplicationCookie(o =>
        {
            o.LoginPath = "/login";
            o.AccessDeniedPath = "/access-denied";
            o.Cookie.Name = "BackfillStudio.Auth";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.ExpireTimeSpan = TimeSpan.FromHours(12);
            o.SlidingExpiration = true;
            // The API answers with status codes, pages with a redirect to the login page.
            o.Events.OnRedirectToLogin = context => AccessProblems.IsApi(context.HttpContext)
                ? AccessProblems.UnauthorizedAsync(context.HttpContext)
                : Redirect(context);
            o.Events.OnRedirectToAccessDenied = context => AccessProblems.IsApi(context.HttpContext)
                ? AccessProblems.ForbiddenAsync(context.HttpContext, "Your role does not allow this request.")
                : Redirect(context);
        });

        // Signed in is not enough: a user without a role sees nothing, on every endpoint not marked otherwise.
        var view = new AuthorizationPolicyBuilder().RequireRole(AccessRoles.All).Build();
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(view)
            .AddPolicy(AccessRoles.ViewPolicy, view)
            .AddPolicy(AccessRoles.OperatePolicy, p => p.RequireRole(AccessRoles.Admin, AccessRoles.Operator))
            .AddPolicy(AccessRoles.AdministerPolicy, p => p.RequireRole(AccessRoles.Admin));
        services.AddCascadingAuthenticationState();
        services.AddScoped<AuthenticationStateProvider, SecurityStampRevalidator>();
        // Cookies are re-checked against the user's security stamp as often as open circuits are.
        services.Configure<SecurityStampValidatorOptions>(o => o.ValidationInterval = SecurityStampRevalidator.Interval(configuration));
        return services;
    }

    private static Task Redirect(RedirectContext<CookieAuthenticationOptions> context)
    {
        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
