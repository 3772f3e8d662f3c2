using DuckDB.NET.Data;
using Npgsql;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>
/// Reads a table's rows as canonical text so a PostgreSQL source can be compared row by row with a
/// PostgreSQL, DuckDB or Parquet copy. Each side renders values with its own SQL into one common form.
/// </summary>
public static class TableContents
{
    private sealed record Column(string Name, string Udt);

    public static async Task<List<string>> FromPostgresAsync(string connectionString, string schema, string table, string? where = null)
    {
        var columns = await ColumnsAsync(connectionString, schema, table);
        var select = string.Join(" || '|' || ", columns.Select(c => $"coalesce({PostgresExpr(c)}, '∅')"));
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand($"SELECT {select} FROM {Q(schema)}.{Q(table)} WHERE {where ?? "TRUE"}", connection);
        var rows = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    /// <summary>Rows of a DuckDB table (<c>relation</c> = <c>schema.table</c>) or of Parquet files (<c>read_parquet('glob')</c>).</summary>
    public static async Task<List<string>> FromDuckDbAsync(string sourceConnectionString, string sourceSchema, string sourceTable,
        string? databasePath, string relation)
    {
        var columns = await ColumnsAsync(sourceConnectionString, sourceSchema, sourceTable);
        var select = string.Join(" || '|' || ", columns.Select(c => $"coalesce({DuckDbExpr(c)}, '∅')"));
        using var connection = new DuckDBConnection(databasePath is null ? "Data Source=:memory:" : $"Data Source={databasePath}");
        connection.Open();
        using (var tz = connection.CreateCommand())
        {
            tz.CommandText = "SET TimeZone = 'UTC'";
            tz.ExecuteNonQuery();
        }
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"SELECT {select} FROM {relation}";
        var rows = new List<string>();
        using var reader = cmd.ExecuteReader();
        while (reader.Read()) rows.Add(reader.GetString(0));
        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    private static string PostgresExpr(Column c)
    {
        var q = Q(c.Name);
        return c.Udt switch
        {
            "bytea" => $"encode({q}, 'hex')",
            "timestamptz" => $"to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
            "timestamp" => $"to_char({q}, 'YYYY-MM-DD HH24:MI:SS.US')",
            "time" => $"to_char(date '2000-01-01' + {q}, 'HH24:MI:SS.US')",
            var u when u.StartsWith('_') => $"to_json({q})::text",
            _ => $"{q}::text",
        };
    }

    private static string DuckDbExpr(Column c)
    {
        var q = Q(c.Name);
        return c.Udt switch
        {
            "bytea" => $"lower(hex({q}))",
            "bpchar" => $"rtrim(CAST({q} AS VARCHAR))",
            // DuckDB prints whole doubles as "125.0" where PostgreSQL prints "125".
            "float8" or "float4" => $"CASE WHEN {q} = trunc({q}) AND abs({q}) < 1e15 THEN CAST(CAST({q} AS BIGINT) AS VARCHAR) ELSE CAST({q} AS VARCHAR) END",
            "timestamptz" => $"strftime(timezone('UTC', {q}), '%Y-%m-%d %H:%M:%S.%f')",
            "timestamp" => $"strftime({q}, '%Y-%m-%d %H:%M:%S.%f')",
            "time" => $"strftime(DATE '2000-01-01' + {q}, '%H:%M:%S.%f')",
            var u when u.StartsWith('_') => $"CAST(to_json({q}) AS VARCHAR)",
            _ => $"CAST({q} AS VARCHAR)",
        };
    }

    private static async Task<List<Column>> ColumnsAsync(string connectionString, string schema, string table)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT column_name, CASE WHEN data_type = 'USER-DEFINED' THEN 'enum' ELSE udt_name END
            FROM information_schema.columns WHERE table_schema = @s AND table_name = @t ORDER BY ordinal_position
            """, connection);
        cmd.Parameters.AddWithValue("s", schema);
        cmd.Parameters.AddWithValue("t", table);
        var columns = new List<Column>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) columns.Add(new Column(reader.GetString(0), reader.GetString(1)));
        Assert.NotEmpty(columns);
        return columns;
    }

    public static string Q(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";
}
