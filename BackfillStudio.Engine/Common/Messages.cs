namespace BackfillStudio.Engine.Common;

public static class Messages
{
    /// <summary>A value quoted in a message, cut to its first 60 characters.</summary>
    public static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "…";
}
