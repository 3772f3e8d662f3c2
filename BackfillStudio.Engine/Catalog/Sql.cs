namespace BackfillStudio.Engine.Catalog;

public static class Sql
{
    /// <summary>Quotes an identifier taken from a catalog (PostgreSQL and DuckDB share the rule).</summary>
    public static string Ident(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

    public static string Literal(string value) => "'" + value.Replace("'", "''") + "'";

    /// <summary>PostgreSQL keeps the first 63 bytes of a longer identifier (NAMEDATALEN - 1), so two longer names can name one table.</summary>
    public const int MaxIdentifierBytes = 63;

    /// <summary>Why PostgreSQL would not keep this name as it is, or null when it would.</summary>
    public static string? IdentifierTooLong(string name) =>
        System.Text.Encoding.UTF8.GetByteCount(name) is var bytes && bytes <= MaxIdentifierBytes ? null
            : $"must be at most {MaxIdentifierBytes} bytes in UTF-8 (this is {bytes}): PostgreSQL cuts a longer name to its first {MaxIdentifierBytes} bytes, so two names alike in those would be one";
}
