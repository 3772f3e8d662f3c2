using BackfillStudio.Tests.Infrastructure;
using Xunit.Abstractions;

namespace BackfillStudio.Tests.Jobs;

/// <summary>
/// Many jobs on two engines that keep being killed: every job still ends COMPLETED with exactly the source's rows.
/// <c>BACKFILL_SOAK_KILLS</c> (default 10) sets how many kills; a larger number is the long version.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class SoakTests(PostgresServer pg, ITestOutputHelper output) : IClassFixture<PostgresServer>
{
    private const int Buckets = 10;

    private static readonly string[] Tables = ["orders", "order_lines", "events", "documents"];

    private const string SourceSql = """
        CREATE TABLE orders (id bigint PRIMARY KEY, bucket int NOT NULL, amount numeric(12,2), note text);
        INSERT INTO orders SELECT g, g % 10, g / 3.0, 'order ' || g FROM generate_series(1, 40000) g;
        CREATE TABLE order_lines (order_id bigint, line int, bucket int NOT NULL, sku text, PRIMARY KEY (order_id, line));
        INSERT INTO order_lines SELECT g / 4, g % 4, (g / 4) % 10, 'sku-' || g % 997 FROM generate_series(0, 39999) g;
        CREATE TABLE events (bucket int NOT NULL, at timestamptz NOT NULL, payload text);
        INSERT INTO events SELECT g % 10, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', 'event ' || g FROM generate_series(1, 40000) g;
        CREATE TABLE documents (id int PRIMARY KEY, bucket int NOT NULL, body text);
        INSERT INTO documents SELECT g, g % 10, repeat(md5(g::text), 64) FROM generate_series(1, 8000) g;
        ANALYZE;
        """;

    private static readonly string[] EngineSettings =
    [
        "--Backfill:BatchSize=500", "--Backfill:LeaseSeconds=3", "--Backfill:PollIntervalSeconds=1", "--Backfill:MaxConcurrentJobs=3",
        "--Backfill:MaxAttempts=100", "--Logging:LogLevel:Default=Warning",
    ];

    [Fact]
    public async Task FortyJobsOnTwoEngines_KilledAgainAndAgain_AllEndCompletedWithExactlyTheSourcesRows()
    {
        var kills = int.TryParse(Environment.GetEnvironmentVariable("BACKFILL_SOAK_KILLS"), out var wanted) ? wanted : 10;
        var seed = Environment.TickCount;
        output.WriteLine($"{kills} kills, random seed {seed}");
        var random = new Random(seed);
        await using var s = await Scenario.CreateAsync(pg, SourceSql, Tables.Select(t => $"public.{t}").ToArray(),
            DestinationKinds.Postgres | DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        var engines = new[] { AppProcess.Start(s.ConfigDb, EngineSettings), AppProcess.Start(s.ConfigDb, EngineSettings) };
        try
        {
            var jobs = new List<int>();
            foreach (var table in Tables)
            {
                for (var bucket = 0; bucket < Buckets; bucket++)
                {
                    var job = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new
                    {
                        table_name = $"public.{table}", filters = new[] { Scenario.Filter("bucket", "=", bucket.ToString()) }, verify = "none",
                    });
                    jobs.Add((int)job["id"]!);
                }
            }

            for (var kill = 0; kill < kills; kill++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1000, 4000)));
                var victim = random.Next(engines.Length);
                engines[victim].Kill();
                engines[victim].Dispose();
                engines[victim] = AppProcess.Start(s.ConfigDb, EngineSettings);
                output.WriteLine($"kill {kill + 1}: engine {victim} at {await CompletedAsync(s)} of {jobs.Count} jobs completed");
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
            while (await CompletedAsync(s) < jobs.Count)
            {
                var failed = await PostgresServer.ScalarAsync<string>(s.ConfigDb,
                    "SELECT coalesce(string_agg(id || ': ' || coalesce(error_message, ''), '; '), '') FROM queue_backfill_data WHERE status = 'FAILED'");
                Assert.True(failed.Length == 0, $"jobs failed: {failed}");
                Assert.True(DateTime.UtcNow < deadline, $"only {await CompletedAsync(s)} of {jobs.Count} jobs completed in time");
                await Task.Delay(500);
            }

            Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.ConfigDb,
                "SELECT count(*) FROM queue_backfill_data WHERE count_record <> total_record OR total_record IS NULL"));
            output.WriteLine($"attempts: {await PostgresServer.ScalarAsync<string>(s.ConfigDb, "SELECT string_agg(attempts::text, ',' ORDER BY id) FROM queue_backfill_data")}");
            foreach (var table in Tables)
            {
                var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", table);
                Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", table));
                Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", table, null,
                    $"read_parquet('{s.ParquetDirectory}/{table}/*/*.parquet')"));
            }
        }
        finally
        {
            foreach (var engine in engines) engine.Dispose();
        }
    }

    private static Task<long> CompletedAsync(Scenario s) =>
        PostgresServer.ScalarAsync<long>(s.ConfigDb, "SELECT count(*) FROM queue_backfill_data WHERE status = 'COMPLETED'");
}
