using BackfillStudio.Tests.Infrastructure;
using DuckDB.NET.Data;

namespace BackfillStudio.Tests.Engine;

/// <summary>
/// A source database (or role) may set how PostgreSQL writes values as text: <c>DateStyle = 'SQL, DMY'</c> writes
/// 2024-01-02 as 02/01/2024, <c>extra_float_digits = 0</c> rounds floats to 15 digits, <c>bytea_output = 'escape'</c>
/// and <c>IntervalStyle = 'sql_standard'</c> write other forms. Types without a binary form the engine uses (arrays of
/// dates, ranges, composite types, ...) travel as that text, so the engine pins the styles on its sessions: the values
/// arrive the same whatever the source's settings, and a target with other settings of its own reads them right.
/// </summary>
public sealed class TextStyleTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TYPE pair AS (d date, f float8);
        CREATE TABLE odd (id int PRIMARY KEY, days date[], span daterange, gap interval, pt point, blobs bytea[], p pair, docs xml[]);
        INSERT INTO odd VALUES (1, '{2024-01-02}', '[2024-01-02,2024-02-01)', '1 year 2 mons 3 days 04:05:06', point(0.1, 1::float8 / 3),
                                '{"\\x00ff"}', ROW('2024-01-02', 1::float8 / 3), ARRAY['<a/>'::xml, NULL]);
        DO $$ BEGIN
            EXECUTE format('ALTER DATABASE %I SET DateStyle = ''SQL, DMY''', current_database());
            EXECUTE format('ALTER DATABASE %I SET IntervalStyle = ''sql_standard''', current_database());
            EXECUTE format('ALTER DATABASE %I SET extra_float_digits = 0', current_database());
            EXECUTE format('ALTER DATABASE %I SET bytea_output = ''escape''', current_database());
            -- The catalog would name types "money", "xml"[].
            EXECUTE format('ALTER DATABASE %I SET quote_all_identifiers = on', current_database());
        END $$;
        """;

    /// <summary>The values as the source holds them, in the text of PostgreSQL's default styles.</summary>
    private static readonly string[] Expected =
        ["{2024-01-02}", "[2024-01-02,2024-02-01)", "1 year 2 mons 3 days 04:05:06", "(0.1,0.3333333333333333)", "{\"\\\\x00ff\"}", "(2024-01-02,0.3333333333333333)",
            "{<a/>,NULL}"];

    private const string ColumnsAsText = "days::text, span::text, gap::text, pt::text, blobs::text, p::text, docs::text";

    [Theory]
    [InlineData(DestinationKinds.Postgres)]
    [InlineData(DestinationKinds.Parquet)]
    [InlineData(DestinationKinds.Postgres | DestinationKinds.Parquet)]
    public async Task ASourceThatWritesTextInOtherStyles_IsCopiedAsItsValues_AndVerifies(DestinationKinds kinds)
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.odd"], kinds);
        // The target reads and writes text in other styles of its own.
        await PostgresServer.ExecuteAsync(s.DestinationDb, """
            DO $$ BEGIN
                EXECUTE format('ALTER DATABASE %I SET DateStyle = ''German, DMY''', current_database());
                EXECUTE format('ALTER DATABASE %I SET IntervalStyle = ''iso_8601''', current_database());
                EXECUTE format('ALTER DATABASE %I SET bytea_output = ''escape''', current_database());
                -- An array's NULL element would be read as the text 'NULL'.
                EXECUTE format('ALTER DATABASE %I SET array_nulls = off', current_database());
            END $$;
            """);
        var columns = (await s.Http.GetOkAsync($"/api/v1/sources/{s.SourceId}/tables/public.odd/columns")).ToJsonString();
        Assert.Contains("\"xml[]\"", columns);
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.odd", verify = "checksum" });
        var jobId = (int)created["id"]!;

        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(1), "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        if (kinds.HasFlag(DestinationKinds.Postgres))
            Assert.Equal(Expected, await PostgresTextAsync(s.DestinationDb, "copy.odd"));
        if (kinds.HasFlag(DestinationKinds.Parquet))
            Assert.Equal(Expected, ParquetText($"{s.ParquetDirectory}/odd/{jobId}/*.parquet"));
        var verification = await s.Http.WaitForVerificationAsync(jobId, TimeSpan.FromMinutes(1), "MATCHED", "MISMATCH", "FAILED");
        Assert.True((string)verification["status"]! == "MATCHED", verification.ToJsonString());
    }

    /// <summary>The columns as text in a session with PostgreSQL's default styles.</summary>
    private static async Task<string[]> PostgresTextAsync(string connectionString, string table)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand(
            $"SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'; SELECT {ColumnsAsText} FROM {table}",
            connection);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return Enumerable.Range(0, Expected.Length).Select(reader.GetString).ToArray();
    }

    /// <summary>The columns as the Parquet files hold them (text, for types DuckDB has none of).</summary>
    private static string[] ParquetText(string glob)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"SELECT {ColumnsAsText} FROM read_parquet('{glob}')";
        using var reader = cmd.ExecuteReader();
        Assert.True(reader.Read());
        return Enumerable.Range(0, Expected.Length).Select(reader.GetString).ToArray();
    }
}
