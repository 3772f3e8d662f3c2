using Microsoft.AspNetCore.DataProtection;

namespace BackfillStudio.Engine.Security;

/// <summary>Encrypts source and destination secrets at rest with ASP.NET Core Data Protection.</summary>
public sealed class SecretProtector(IDataProtectionProvider provider)
{
    private readonly IDataProtector _protector = provider.CreateProtector("BackfillStudio.Secrets.v1");

    public string? Protect(string? secret) => string.IsNullOrEmpty(secret) ? null : _protector.Protect(secret);

    public string? Unprotect(string? protectedSecret) =>
        string.IsNullOrEmpty(protectedSecret) ? null : _protector.Unprotect(protectedSecret);
}
