using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Web.Access;

public sealed record UserView(string Id, string UserName, string Role, bool Disabled, DateTimeOffset? LockedUntil);

/// <summary>The Users page's operations: list, create with a role, change the role, disable or enable.</summary>
public sealed class UserAdminService(UserManager<AppUser> users)
{
    public async Task<IReadOnlyList<UserView>> ListAsync()
    {
        var result = new List<UserView>();
        foreach (var user in await users.Users.OrderBy(u => u.UserName).ToListAsync())
            result.Add(await ToViewAsync(user));
        return result;
    }

    public async Task<UserView> CreateAsync(string? userName, string? password, string? role)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(userName)) errors.Add("user_name", "A user name is required.");
        if (string.IsNullOrEmpty(password)) errors.Add("password", "A password is required.");
        CheckRole(role, errors);
        errors.ThrowIfAny();
        var user = new AppUser { UserName = userName!.Trim() };
        Check(await users.CreateAsync(user, password!), "password");
        Check(await users.AddToRoleAsync(user, role!), "role");
        return await ToViewAsync(user);
    }

    public async Task SetRoleAsync(string userId, string? role)
    {
        var errors = new ValidationErrors();
        CheckRole(role, errors);
        errors.ThrowIfAny();
        var user = await FindAsync(userId);
        var previous = (await users.GetRolesAsync(user)).Where(r => r != role).ToList();
        // The new role first: the user is never left without one.
        if (!await users.IsInRoleAsync(user, role!)) Check(await users.AddToRoleAsync(user, role!), "role");
        Check(await users.RemoveFromRolesAsync(user, previous), "role");
        await users.UpdateSecurityStampAsync(user);
    }

    /// <summary>A disabled user cannot sign in, and their open pages lose the sign-in at the next revalidation.</summary>
    public async Task SetDisabledAsync(string userId, bool disabled)
    {
        var user = await FindAsync(userId);
        Check(await users.SetLockoutEnabledAsync(user, true), "disabled");
        Check(await users.SetLockoutEndDateAsync(user, disabled ? DateTimeOffset.MaxValue : null), "disabled");
        await users.UpdateSecurityStampAsync(user);
    }

    private async Task<AppUser> FindAsync(string userId) =>
        await users.FindByIdAsync(userId) ?? throw new NotFoundException($"User {userId} does not exist.");

    private async Task<UserView> ToViewAsync(AppUser user)
    {
        var role = (await users.GetRolesAsync(user)).FirstOrDefault() ?? "";
        var disabled = user.LockoutEnd == DateTimeOffset.MaxValue;
        var lockedUntil = !disabled && user.LockoutEnd > DateTimeOffset.UtcNow ? user.LockoutEnd : null;
        return new UserView(user.Id, user.UserName ?? "", role, disabled, lockedUntil);
    }

    private static void CheckRole(string? role, ValidationErrors errors)
    {
        if (role is null || !AccessRoles.All.Contains(role)) errors.Add("role", $"role must be one of {string.Join(", ", AccessRoles.All)}.");
    }

    private static void Check(IdentityResult result, string field)
    {
        if (result.Succeeded) return;
        var errors = new ValidationErrors();
        foreach (var error in result.Errors) errors.Add(error.Code.Contains("Password", StringComparison.Ordinal) ? "password" : field, error.Description);
        errors.ThrowIfAny();
    }
}
