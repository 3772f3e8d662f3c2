using BackfillStudio.Tests.Infrastructure;
using BackfillStudio.Web.Hosting;
using Npgsql;

namespace BackfillStudio.Tests.Engine;

/// <summary>
/// A batch's checkpoint says its rows are in the destination for good: a resumed job never writes them again. So the
/// destination's commit must be durable before the checkpoint, whatever the destination's own settings.
/// </summary>
public sealed class DurabilityTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    /// <summary>
    /// A PostgreSQL target set to <c>synchronous_commit = off</c> (a common setting for a database that takes bulk loads)
    /// answers a commit before its WAL is written: a crash loses the last commits (here up to the 10 s
    /// <c>wal_writer_delay</c>). The target crashes the moment the job says COMPLETED, and after recovery holds every row.
    /// </summary>
    [Fact]
    public async Task APostgresTargetThatCommitsAsynchronously_HoldsEveryRowOfACompletedJob_AfterItCrashes()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"backfill-durability-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        if (Environment.UserName == "root") await ProcessRunner.RunAsync("chmod", ["755", folder]);
        var port = PostgresServer.FreePort();
        var target = await LocalPostgresCluster.StartAsync(Path.Combine(folder, "pg"), port, throwaway: true);
        try
        {
            await target.CreateDatabaseIfMissingAsync("warehouse");
            await PostgresServer.ExecuteAsync(Unpooled(target.ConnectionString("postgres")),
                "ALTER SYSTEM SET wal_writer_delay = '10s'; SELECT pg_reload_conf();");
            Assert.Equal("off", await PostgresServer.ScalarAsync<string>(Unpooled(target.ConnectionString("warehouse")), "SHOW synchronous_commit"));

            const string sql = """
                CREATE TABLE orders (id int PRIMARY KEY, note text NOT NULL);
                INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 2000) g;
                """;
            await using var s = await Scenario.CreateAsync(pg, sql, ["public.orders"], DestinationKinds.Parquet, "--Backfill:BatchSize=500");
            var pipelineId = await s.AddPipelineAsync("to-warehouse",
                [await s.AddPostgresDestinationAsync("warehouse", target.ConnectionString("warehouse"))], "public.orders");
            var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{pipelineId}/backfill",
                new { table_name = "public.orders", verify = "none" }))["id"]!;
            var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
            Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());

            await target.StopAsync(immediately: true);
            target = await LocalPostgresCluster.StartAsync(Path.Combine(folder, "pg"), port, throwaway: true);

            Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "orders"),
                await TableContents.FromPostgresAsync(Unpooled(target.ConnectionString("warehouse")), "copy", "orders"));
        }
        finally
        {
            await target.StopAsync(immediately: true);
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Connections of the test's own that do not outlive the crash in a pool.</summary>
    private static string Unpooled(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;
}
