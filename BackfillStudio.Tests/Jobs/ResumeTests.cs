using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Jobs;

/// <summary>A FAILED or CANCELLED job continues from its checkpoint and ends holding exactly the source's rows.</summary>
public sealed class ResumeTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private const string SourceSql = """
        CREATE TABLE readings (id bigint PRIMARY KEY, sensor text NOT NULL, value double precision);
        INSERT INTO readings SELECT g, 'sensor-' || g % 50, g * 0.5 FROM generate_series(1, 200000) g;
        CREATE TABLE events (at timestamp NOT NULL, kind text);
        INSERT INTO events SELECT timestamp '2024-01-01' + g * interval '1 second', 'k' || g % 7 FROM generate_series(1, 100000) g;
        ANALYZE;
        """;

    [Fact]
    public async Task CancelledJob_Resumes_FromItsCheckpoint_ToExactlyTheSourcesRows_InEveryDestination()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.readings", "public.events"], DestinationKinds.All, "--Backfill:BatchSize=1000");
        foreach (var table in new[] { "readings", "events" })
        {
            var jobId = await s.StartBackfillAsync($"public.{table}");
            await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! > 0, "first checkpoint");
            await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/cancel", new { });
            var cancelled = await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED", "COMPLETED", "FAILED");
            Assert.Equal("CANCELLED", (string)cancelled["status"]!);
            var total = (long)cancelled["total_record"]!;
            Assert.True((long)cancelled["count_record"]! < total, $"cancel came too late to observe: {cancelled["count_record"]} of {total}");

            var resumed = await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
            AssertRequeued(resumed);
            Assert.True((long)resumed["count_record"]! >= (long)cancelled["count_record"]!, resumed.ToJsonString());
            Assert.Equal("bootstrap API key", (string)resumed["resumed_by"]!);
            Assert.NotNull(resumed["resumed_at"]);

            var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
            Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
            Assert.Equal(total, (long)job["count_record"]!);
            var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", table);
            await s.AssertDestinationsHoldAsync(expected, table, jobId);
        }
    }

    /// <summary>
    /// The resume's answer shows the job queued again; an engine may already have claimed it in the moment between the
    /// resume and the answer (seen in CI), which shows as EXECUTING.
    /// </summary>
    private static void AssertRequeued(System.Text.Json.Nodes.JsonObject resumed) =>
        Assert.True((string)resumed["status"]! is "PENDING" or "EXECUTING", resumed.ToJsonString());

    [Fact]
    public async Task FailedJob_Resumes_OnceTheDestinationAcceptsRowsAgain_AndOnlyFailedOrCancelledJobsResume()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        // The destination refuses rows past id 5,500: the job fails after five batches.
        await PostgresServer.ExecuteAsync(s.DestinationDb, """
            CREATE SCHEMA copy;
            CREATE TABLE copy.readings (id bigint PRIMARY KEY, sensor text NOT NULL, value double precision);
            CREATE FUNCTION copy.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN IF NEW.id > 5500 THEN RAISE EXCEPTION 'disk quota exceeded'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER refuse BEFORE INSERT ON copy.readings FOR EACH ROW EXECUTE FUNCTION copy.refuse();
            """);
        var jobId = await s.StartBackfillAsync("public.readings", Filter("id", "<=", 50000));
        var failed = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED");
        Assert.Equal("FAILED", (string)failed["status"]!);
        Assert.Contains("disk quota exceeded", (string)failed["error_message"]!);
        Assert.Equal(5000L, (long)failed["count_record"]!);

        await PostgresServer.ExecuteAsync(s.DestinationDb, "DROP TRIGGER refuse ON copy.readings");
        var resumed = await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        AssertRequeued(resumed);
        Assert.Null(resumed["error_message"]);
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        Assert.Equal(50000L, (long)job["count_record"]!);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings", "id <= 50000"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings"));

        var (again, problem) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/resume");
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Contains("COMPLETED", (string)problem["detail"]!);
        var (missing, _) = await s.Http.PostJsonAsync("/api/v1/backfill/999999/resume");
        Assert.Equal(HttpStatusCode.NotFound, missing);
    }

    [Fact]
    public async Task ResumedJob_WhoseDestinationMovedSinceItsFirstRows_FailsInsteadOfWritingOnlyTheRestThere()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        var jobId = await s.StartBackfillAsync("public.readings");
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! > 0, "first checkpoint");
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/cancel", new { });
        Assert.Equal("CANCELLED", (string)(await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED", "COMPLETED"))["status"]!);

        var destination = (JsonObject)(await s.Http.GetOkAsync($"/api/v1/destinations/{s.DestinationIds[0]}"));
        var config = destination["config"]!.AsObject();
        config["schema"] = "elsewhere";
        var (updated, body) = await SendAsync(s.Http, HttpMethod.Put, $"/api/v1/destinations/{s.DestinationIds[0]}",
            new { name = (string)destination["name"]!, type = "postgres", config });
        Assert.True(updated == HttpStatusCode.OK, body);

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)job["status"]!);
        Assert.Contains("changed since this job wrote its first rows", (string)job["error_message"]!);
        Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.DestinationDb,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'elsewhere' AND table_name = 'readings'"));
    }

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpClient http, HttpMethod method, string path, object body)
    {
        using var response = await http.SendAsync(new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) });
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
