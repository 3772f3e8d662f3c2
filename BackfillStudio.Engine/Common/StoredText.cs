namespace BackfillStudio.Engine.Common;

/// <summary>Text the config database and PostgreSQL sources can hold: UTF-8, without NUL characters.</summary>
public static class StoredText
{
    /// <summary>What a JSON string escaping a lone UTF-16 surrogate (<c>"\ud800"</c>) is refused with: it has no UTF-8 form.</summary>
    private const string LoneSurrogate = "a lone UTF-16 surrogate (such as \\ud800), which has no UTF-8 form";

    /// <summary>What <paramref name="text"/> holds that PostgreSQL text cannot, for a message "must not contain ..."; null when nothing.</summary>
    public static string? Unstorable(string text) => text.Contains('\0') ? "the NUL character (U+0000), which PostgreSQL text cannot hold" : null;

    /// <summary>
    /// A JSON string's text, read by <paramref name="read"/>, and in <paramref name="unstorable"/> what it holds that
    /// PostgreSQL text cannot. System.Text.Json reads a string escaping a lone surrogate only into a typed field, which
    /// refuses it; read from a JSON node or element it throws InvalidOperationException.
    /// </summary>
    public static string? Read(Func<string?> read, out string? unstorable)
    {
        try
        {
            var text = read();
            unstorable = text is null ? null : Unstorable(text);
            return text;
        }
        catch (InvalidOperationException)
        {
            unstorable = LoneSurrogate;
            return null;
        }
    }
}
