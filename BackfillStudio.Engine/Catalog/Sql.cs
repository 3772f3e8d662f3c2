namespace BackfillStudio.Engine.Catalog;

public static class Sql
{
    /// <summary>Quotes an identifier taken from a catalog (PostgreSQL and DuckDB share the rule).</summary>
    public static string Ident(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

    public static string Literal(string value) => "'" + value.Replace("'", "''") + "'";
}
