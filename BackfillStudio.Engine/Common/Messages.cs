namespace BackfillStudio.Engine.Common;

public static class Messages
{
    /// <summary>A value quoted in a message, cut to its first <paramref name="max"/> characters.</summary>
    public static string Shorten(string text, int max = 60) => text.Length <= max ? text : text[..max] + "…";
}
