namespace BackfillStudio.Engine.Common;

/// <summary>Text the config database and PostgreSQL sources can hold: UTF-8, without NUL characters.</summary>
public static class StoredText
{
    /// <summary>What a JSON string escaping a lone UTF-16 surrogate (<c>"\ud800"</c>) is refused with: it has no UTF-8 form.</summary>
    public const string LoneSurrogate = "a lone UTF-16 surrogate (such as \\ud800), which has no UTF-8 form";

    /// <summary>What <paramref name="text"/> holds that PostgreSQL text cannot, for a message "must not contain ..."; null when nothing.</summary>
    public static string? Unstorable(string text)
    {
        if (text.Contains('\0')) return "the NUL character (U+0000), which PostgreSQL text cannot hold";
        for (var i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else return LoneSurrogate;
        }
        return null;
    }
}
