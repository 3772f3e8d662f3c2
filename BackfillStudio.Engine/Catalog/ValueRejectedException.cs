namespace BackfillStudio.Engine.Catalog;

/// <summary>
/// A value that cannot arrive exactly (nor in a documented lossless form) where it is going: the job
/// fails before writing the batch, naming the table, the column and the value.
/// </summary>
public sealed class ValueRejectedException(string table, string column, string value, string reason)
    : Exception($"Table {table}, column \"{column}\": value '{Shorten(value)}' {reason}")
{
    public static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "…";
}
