namespace BackfillStudio.Engine.Common;

/// <summary>
/// Reads an enum member by its name alone, in any case. <c>Enum.TryParse</c> also takes numbers and comma lists:
/// "executing,failed" is the OR of their values, another member or none.
/// </summary>
public static class EnumText
{
    public static bool TryParse<T>(string? text, out T value) where T : struct, Enum
    {
        foreach (var member in Enum.GetValues<T>())
        {
            if (!string.Equals(member.ToString(), text?.Trim(), StringComparison.OrdinalIgnoreCase)) continue;
            value = member;
            return true;
        }
        value = default;
        return false;
    }
}
