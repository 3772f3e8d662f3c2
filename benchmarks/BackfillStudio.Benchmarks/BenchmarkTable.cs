using Npgsql;

namespace BackfillStudio.Benchmarks;

/// <summary>The benchmark's source table: 10 columns of mixed types, deterministic contents.</summary>
public static class BenchmarkTable
{
    public static string CreateSql(string name, int rows) => $"""
        CREATE TABLE {name} (
            id bigint PRIMARY KEY, customer_id integer NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL,
            created_at timestamptz NOT NULL, updated_at timestamp, is_active boolean NOT NULL, score double precision,
            ref uuid NOT NULL, note varchar(64));
        INSERT INTO {name}
        SELECT g, (g % 100000)::int, round((g % 100000) / 7.0, 2), (ARRAY['new','paid','shipped','returned'])[1 + g % 4],
               timestamptz '2023-01-01 00:00:00+00' + g * interval '1 second', timestamp '2024-01-01' + g * interval '2 seconds',
               g % 3 <> 0, g / 3.0, md5(g::text)::uuid, 'note for row ' || g
        FROM generate_series(1::bigint, {rows}) g;
        ANALYZE {name};
        """;

    /// <summary>
    /// Vacuums the freshly loaded tables (each in a statement of its own: VACUUM takes no transaction), so that
    /// autovacuum, which a bulk insert triggers a minute later, does not run during (and slow) whichever run comes first,
    /// and no run pays for setting the rows' hint bits.
    /// </summary>
    public static async Task SettleAsync(string connectionString, params string[] tables)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var table in tables)
        {
            await using var cmd = new NpgsqlCommand($"VACUUM (ANALYZE) {table}", connection) { CommandTimeout = 0 };
            await cmd.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Rows of about 1 MB each (a jsonb document), for the memory bound of <c>Backfill:BatchMaxBytes</c>.</summary>
    public static string CreateWideSql(string name, int rows) => $"""
        CREATE TABLE {name} (id bigint PRIMARY KEY, doc jsonb NOT NULL);
        INSERT INTO {name}
        SELECT g, jsonb_build_object('id', g, 'body', repeat(md5(g::text), 32768)) FROM generate_series(1::bigint, {rows}) g;
        ANALYZE {name};
        """;
}
