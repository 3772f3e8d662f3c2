using System.Net;
using System.Net.Http.Json;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;

namespace BackfillStudio.Tests.Engine;

/// <summary>
/// A source role that row-level security filters sees only the rows its policies let through, in every query and
/// every <c>COPY</c>, with no error: a job reading as that role would copy part of the table, count the same part when it
/// verifies, and say COMPLETED. Such a backfill is refused, or fails, naming the table, as <c>pg_dump</c> does.
/// </summary>
public sealed class RowLevelSecurityTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task ABackfillOfATableThatAPolicyFiltersForTheSourceRole_IsRefused_NamingTheTableAndTheFix()
    {
        await using var s = await ScenarioReadingAsAsync(bypassesRowSecurity: false);

        var (status, body) = await s.Http.PostJsonAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.orders" });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var detail = (string)body["errors"]!["table_name"]![0]!;
        Assert.Contains("Row-level security is on for public.orders", detail);
        Assert.Contains("BYPASSRLS", detail);
        Assert.Equal(0, (int)(await s.Http.GetOkAsync($"/api/v1/backfill?pipeline_id={s.PipelineId}"))["total"]!);
    }

    /// <summary>
    /// Row-level security turned on between two of a running job's statements: the next statement on the table fails
    /// (the session runs with <c>row_security = off</c>), where it would have read on through the policy. Resumed, the job
    /// fails again at its start, saying why.
    /// </summary>
    [Theory]
    [InlineData(DestinationKinds.Postgres, true)]
    [InlineData(DestinationKinds.Postgres, false)]
    [InlineData(DestinationKinds.Parquet, true)]
    public async Task RowSecurityTurnedOnUnderARunningJob_FailsTheJob_RatherThanCopyPartOfTheTable(DestinationKinds kinds, bool binaryCopy)
    {
        await using var s = await ScenarioReadingAsAsync(bypassesRowSecurity: false, rowSecurityOn: false, rows: 20_000, kinds,
            "--Backfill:SourceStatementTimeoutSeconds=2", "--Backfill:BatchSize=500", "--Backfill:MaxParallelChunks=1", $"--Backfill:BinaryCopy={binaryCopy}");
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.orders", max_rows_per_second = 4000, verify = "none" });
        var jobId = (int)created["id"]!;
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! > 0, "first checkpoint");

        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE orders ENABLE ROW LEVEL SECURITY");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");

        Assert.True("FAILED" == (string)job["status"]!, job.ToJsonString());
        Assert.Contains("row-level security policy for table \"orders\"", (string)job["error_message"]!);
        Assert.InRange((long)job["count_record"]!, 1, 19_999);

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
        Assert.True("FAILED" == (string)job["status"]!, job.ToJsonString());
        Assert.Contains("Row-level security is on for public.orders", (string)job["error_message"]!);
    }

    /// <summary>A table the source's role may not read at all: the preview and the backfill are refused naming it, not a 500.</summary>
    [Fact]
    public async Task ATableTheSourceRoleMayNotRead_IsRefused_InThePreviewAndTheBackfill()
    {
        await using var s = await ScenarioReadingAsAsync(bypassesRowSecurity: true);
        await PostgresServer.ExecuteAsync(s.SourceDb, "REVOKE SELECT ON orders FROM PUBLIC; DO $$ DECLARE r text; BEGIN " +
            "FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'reader_%' LOOP EXECUTE format('REVOKE SELECT ON orders FROM %I', r); END LOOP; END $$");

        foreach (var path in new[] { $"/api/v1/pipelines/{s.PipelineId}/backfill/preview", $"/api/v1/pipelines/{s.PipelineId}/backfill" })
        {
            var (status, body) = await s.Http.PostJsonAsync(path, new { table_name = "public.orders" });
            Assert.True(status == HttpStatusCode.BadRequest, $"{path}: {(int)status} {body.ToJsonString()}");
            Assert.Contains("may not read public.orders", (string)body["errors"]!["table_name"]![0]!);
        }
        Assert.Equal(0, (int)(await s.Http.GetOkAsync($"/api/v1/backfill?pipeline_id={s.PipelineId}"))["total"]!);
    }

    [Fact]
    public async Task ASourceRoleThatBypassesRowSecurity_CopiesEveryRow()
    {
        await using var s = await ScenarioReadingAsAsync(bypassesRowSecurity: true);

        var jobId = await s.StartBackfillAsync("public.orders");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");

        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "orders");
        Assert.Equal(1000, expected.Count);
        await s.AssertDestinationsHoldAsync(expected, "orders", jobId);
    }

    /// <summary>
    /// A scenario whose source reads as a role of its own, which only sees the <c>eu</c> half of <c>orders</c> through a
    /// policy unless it bypasses row-level security.
    /// </summary>
    private async Task<Scenario> ScenarioReadingAsAsync(bool bypassesRowSecurity, bool rowSecurityOn = true, int rows = 1000,
        DestinationKinds kinds = DestinationKinds.All, params string[] settings)
    {
        var role = $"reader_{Guid.NewGuid():N}"[..20];
        var password = Guid.NewGuid().ToString("N");
        var sql = $"""
            CREATE TABLE orders (id int PRIMARY KEY, region text NOT NULL, amount numeric(10,2));
            INSERT INTO orders SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g / 4.0 FROM generate_series(1, {rows}) g;
            {(rowSecurityOn ? "ALTER TABLE orders ENABLE ROW LEVEL SECURITY;" : "")}
            CREATE ROLE {role} LOGIN PASSWORD '{password}' {(bypassesRowSecurity ? "BYPASSRLS" : "")};
            CREATE POLICY eu_only ON orders FOR SELECT TO {role} USING (region = 'eu');
            GRANT SELECT ON orders TO {role};
            """;
        var s = await Scenario.CreateAsync(pg, sql, ["public.orders"], kinds, settings);
        var source = new NpgsqlConnectionStringBuilder(s.SourceDb);
        using var response = await s.Http.PutAsJsonAsync($"/api/v1/sources/{s.SourceId}", new
        {
            name = "source", host = source.Host, port = source.Port, database = source.Database,
            username = role, password, ssl_mode = "disable",
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return s;
    }
}
