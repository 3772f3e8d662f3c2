namespace BackfillStudio.Engine.Destinations.Snowflake;

/// <summary>Snowflake SQL text: always-quoted identifiers and string literals (where backslash is an escape character).</summary>
public static class SnowflakeSql
{
    public static string Ident(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

    public static string Literal(string value) => "'" + value.Replace("\\", "\\\\").Replace("'", "''") + "'";
}
