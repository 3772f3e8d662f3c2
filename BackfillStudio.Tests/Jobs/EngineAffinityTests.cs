using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Jobs;

/// <summary>A DuckDB file or Parquet folder lives on one engine's disk: only that engine writes it, and the API says so.</summary>
public sealed class EngineAffinityTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 5000) g;";

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task ALocalFileDestination_IsWrittenOnlyByTheEngineItBelongsTo_AndSaysWhenThatEngineIsNotRunning()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.DuckDb, "--Backfill:EngineName=alpha");
        var duckId = s.DestinationIds.Single();
        var duck = await WaitForDestinationAsync(s.Http, duckId, d => d["engine_running"] is JsonValue v && (bool)v, "engine alpha seen running");
        Assert.Equal("alpha", (string)duck["engine"]!);
        Assert.Null(duck["warning"]);

        // Only local-file destinations belong to an engine, and a pipeline's destinations must share one.
        var (serverStatus, server) = await s.Http.PostJsonAsync("/api/v1/destinations", new
        {
            name = "server", type = "postgres", engine = "alpha",
            config = new { host = "127.0.0.1", port = 5432, database = "x", username = "u", schema = "copy" },
        });
        Assert.Equal(HttpStatusCode.BadRequest, serverStatus);
        Assert.NotNull(server["errors"]!["engine"]);
        var files = await s.Http.PostOkAsync("/api/v1/destinations", new
        {
            name = "files", type = "parquet", engine = "beta", config = new { path = Path.Combine(s.Folder, "parquet") },
        });
        Assert.Equal("beta", (string)files["engine"]!);
        Assert.Equal(false, (bool?)files["engine_running"]);
        var (splitStatus, split) = await s.Http.PostJsonAsync("/api/v1/pipelines", new
        {
            name = "split", source_id = s.SourceId, destination_ids = new[] { duckId, (int)files["id"]! },
            tables = new[] { new { table_name = "public.items" } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, splitStatus);
        Assert.Contains("on engine 'beta'", (string)split["errors"]!["destination_ids"]![0]!);

        // The DuckDB file moves to engine beta, which is not running: alpha leaves the job alone and the API warns.
        var moved = await s.Http.PutAsJsonAsync($"/api/v1/destinations/{duckId}", new
        {
            name = (string)duck["name"]!, type = "duckdb", config = duck["config"], engine = "beta",
        }, TestApp.Json);
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        var jobId = await s.StartBackfillAsync("public.items");
        await Task.Delay(TimeSpan.FromSeconds(3));
        var pending = await s.Http.GetJobAsync(jobId);
        Assert.Equal("PENDING", (string)pending["status"]!);
        Assert.StartsWith("engine 'beta', which is not running", (string)pending["waiting_for"]!);
        var waiting = await s.Http.GetJsonAsync($"/api/v1/destinations/{duckId}");
        Assert.Equal(false, (bool?)waiting.Body["engine_running"]);
        Assert.Contains("No running engine is named 'beta'", (string)waiting.Body["warning"]!);

        await using var beta = await s.StartPeerAsync("--Backfill:EngineName=beta");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Null(job["waiting_for"]);
        Assert.StartsWith("beta:", await PostgresServer.ScalarAsync<string>(s.ConfigDb, $"SELECT lease_owner FROM queue_backfill_data WHERE id = {jobId}"));
        var verified = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.Equal("MATCHED", (string)verified["status"]!);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "items"),
            await TableContents.FromDuckDbAsync(s.SourceDb, "public", "items", s.DuckDbPath, "main.items"));
        var served = await WaitForDestinationAsync(s.Http, duckId, d => d["engine_running"] is JsonValue v && (bool)v, "engine beta seen running");
        Assert.Null(served["warning"]);
    }

    [Fact]
    public async Task TwoEngineProcessesOnOneHost_TakeTurnsWithADuckDbFile_AndBothJobsComplete()
    {
        await using var s = await Scenario.CreateAsync(pg,
            "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 60000) g;",
            ["public.items"], DestinationKinds.DuckDb, "--Backfill:EngineEnabled=false");
        // Enough attempts for the second job to outwait the first (each retry waits 2 s longer).
        string[] engine = ["--Backfill:PollIntervalSeconds=1", "--Backfill:MaxConcurrentJobs=1", "--Backfill:MaxAttempts=20", "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:BackfillStudio.Engine.Jobs.BackfillWorker=Information"];
        using var first = AppProcess.Start(s.ConfigDb, engine);
        // About 40 s for the first job, during which its engine process holds the DuckDB file (time for the second engine
        // process to start even on a machine busy with other tests).
        var slow = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new
        {
            table_name = "public.items", filters = new[] { Scenario.Filter("id", "<=", "40000") }, max_rows_per_second = 1000, verify = "none",
        }))["id"]!;
        await s.Http.WaitUntilAsync(slow, Timeout, j => (long)j["count_record"]! > 0, "the first job's progress");

        using var second = AppProcess.Start(s.ConfigDb, engine);
        await second.WaitForOutputAsync("Backfill engine", Timeout);
        var other = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new
        {
            table_name = "public.items", filters = new[] { Scenario.Filter("id", ">", "40000") }, verify = "none",
        }))["id"]!;

        foreach (var (jobId, rows) in new[] { (slow, 40000L), (other, 20000L) })
        {
            var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
            Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
            Assert.Equal(rows, (long)job["count_record"]!);
        }
        Assert.True((first.Output + second.Output).Contains("open in another process", StringComparison.Ordinal), first.Output + "\n----\n" + second.Output);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "items"),
            await TableContents.FromDuckDbAsync(s.SourceDb, "public", "items", s.DuckDbPath, "main.items"));
    }

    private static async Task<JsonObject> WaitForDestinationAsync(HttpClient http, int id, Func<JsonObject, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var (_, destination) = await http.GetJsonAsync($"/api/v1/destinations/{id}");
            if (condition(destination)) return destination;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited for {what}: {destination.ToJsonString()}");
            await Task.Delay(200);
        }
    }
}
