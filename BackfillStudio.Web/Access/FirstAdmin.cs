using System.Security.Cryptography;
using BackfillStudio.Engine.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Web.Access;

/// <summary>
/// On a fresh install: creates the three roles and the <c>admin</c> user, whose password comes from
/// <c>Auth:AdminPassword</c> or is generated and printed to the console this once (never logged again).
/// </summary>
public static class FirstAdmin
{
    public const string UserName = "admin";

    public static async Task EnsureAsync(IServiceProvider services, IConfiguration configuration, TextWriter console)
    {
        await using var scope = services.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        foreach (var role in AccessRoles.All)
        {
            // Several instances may start at once on a fresh database: a lost race leaves the role there anyway.
            if (await roles.RoleExistsAsync(role)) continue;
            try
            {
                await roles.CreateAsync(new IdentityRole(role));
            }
            catch (DbUpdateException)
            {
            }
        }

        var users = scope.ServiceProvider.GetRequiredService<UserManager<AppUser>>();
        if (await users.Users.AnyAsync()) return;
        var configured = configuration["Auth:AdminPassword"];
        var password = string.IsNullOrEmpty(configured) ? Generate() : configured;
        var admin = new AppUser { UserName = UserName };
        IdentityResult created;
        try
        {
            created = await users.CreateAsync(admin, password);
        }
        catch (DbUpdateException)
        {
            if (await users.Users.AnyAsync()) return; // another instance starting on the same fresh database created it first
            throw;
        }
        if (!created.Succeeded)
        {
            if (await users.Users.AnyAsync()) return;
            throw new InvalidOperationException("Could not create the admin user: " + string.Join(" ", created.Errors.Select(e => e.Description)));
        }
        await users.AddToRoleAsync(admin, AccessRoles.Admin);
        if (string.IsNullOrEmpty(configured))
        {
            await console.WriteLineAsync($"""

                ==================================================================
                 BackfillStudio created the user 'admin' with this password:

                     {password}

                 It is shown this once. Sign in and keep it somewhere safe.
                ==================================================================

                """);
        }
    }

    private static string Generate() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', 'x').Replace('/', 'y') + "-Aa1";
}
