using System.Text.RegularExpressions;

namespace BackfillStudio.Engine.Security;

/// <summary>Removes known secrets and connection-string passwords from text that leaves the engine (errors, logs).</summary>
public static partial class SecretScrubber
{
    public static string Scrub(string message, IEnumerable<string?> secrets)
    {
        foreach (var secret in secrets)
        {
            if (!string.IsNullOrEmpty(secret) && secret.Length >= 3)
                message = message.Replace(secret, "***", StringComparison.Ordinal);
        }
        return PasswordSetting().Replace(message, "$1=***");
    }

    [GeneratedRegex(@"(?i)\b(password|pwd)\s*=\s*[^;\s]*")]
    private static partial Regex PasswordSetting();
}
