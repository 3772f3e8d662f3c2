using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Notifications;

/// <summary>Webhook channels: signed requests, retries under one delivery id, and an outbox that outlives a killed engine.</summary>
public sealed class WebhookNotificationTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string Secret = "whsec-0123456789abcdef-test";

    private const string SourceSql = """
        CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(10,2) NOT NULL);
        INSERT INTO orders SELECT g, g % 500 FROM generate_series(1, 3000) g;
        ANALYZE;
        """;

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task AScheduledRunThatCreatesNoJob_IsPosted_SoABackfillThatDidNotStartIsNeverSilent()
    {
        using var receiver = new WebhookReceiver();
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres, "--Backfill:PollIntervalSeconds=1",
            "--App:PublicUrl=https://backfill.example.com");
        await s.Http.PostOkAsync("/api/v1/notifications", new { name = "ops hook", type = "webhook", url = receiver.Url, secret = Secret, events = new[] { "SCHEDULE_FAILED" } });
        var id = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/schedules",
            new { table_name = "public.orders", cron = "*/2 * * * * *", filters = new[] { Scenario.Filter("amount", ">=", 100) } }))["id"]!;
        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE orders DROP COLUMN amount");

        var requests = await receiver.WaitForAsync(r => r.Any(x => x.Headers["X-Backfill-Event"] == "SCHEDULE_FAILED"), Timeout, "a SCHEDULE_FAILED event");
        await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/schedules/{id}/pause", new { });
        Assert.All(requests, r => Assert.Equal("SCHEDULE_FAILED", r.Headers["X-Backfill-Event"]));
        var request = requests[0];
        Assert.Equal("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), request.Body)), request.Headers["X-Backfill-Signature"]);
        var body = JsonNode.Parse(request.Body)!;
        Assert.Null(body["job"]);
        Assert.Equal(id, (int)body["schedule"]!["id"]!);
        Assert.Equal("public.orders", (string)body["schedule"]!["table_name"]!);
        Assert.StartsWith($"Schedule {id} of public.orders (pipeline pipeline, '*/2 * * * * *' in UTC) created no job for its run at ", (string)body["message"]!);
        Assert.Contains("amount", (string)body["message"]!);
        Assert.Equal($"https://backfill.example.com/pipelines/{s.PipelineId}", (string)body["link"]!);
    }

    [Fact]
    public async Task CompletedJob_IsPostedSigned_RetriedAfterA500UnderOneDeliveryId_AndLogged()
    {
        using var receiver = new WebhookReceiver { Answer = n => n == 1 ? 500 : 200 };
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000",
            "--App:PublicUrl=https://backfill.example.com/");
        var (status, channel) = await s.Http.PostJsonAsync("/api/v1/notifications", new
        {
            name = "ops hook", type = "webhook", url = receiver.Url, secret = Secret, pipeline_ids = new[] { s.PipelineId },
            events = new[] { "COMPLETED", "FAILED" },
        });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.True((bool)channel["has_secret"]!);
        Assert.DoesNotContain(Secret, channel.ToJsonString());
        Assert.DoesNotContain(Secret, (await s.Http.GetOkAsync("/api/v1/notifications")).ToJsonString());

        var jobId = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        var requests = await receiver.WaitForAsync(r => r.Count >= 2, Timeout, "the delivery and its retry");

        Assert.Equal([500, 200], requests.Select(r => r.AnsweredWith));
        Assert.Single(requests.Select(r => r.Headers["X-Backfill-Delivery"]).Distinct());
        foreach (var request in requests)
        {
            Assert.Equal("COMPLETED", request.Headers["X-Backfill-Event"]);
            var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), request.Body));
            Assert.Equal(expected, request.Headers["X-Backfill-Signature"]);
        }
        var body = JsonNode.Parse(requests[1].Body)!;
        Assert.Equal("COMPLETED", (string)body["event"]!);
        Assert.Equal(requests[1].Headers["X-Backfill-Delivery"], (string)body["delivery_id"]!);
        Assert.Equal(jobId, (int)body["job"]!["id"]!);
        Assert.Equal(3000L, (long)body["job"]!["count_record"]!);
        Assert.Equal("public.orders", (string)body["job"]!["table_name"]!);
        Assert.StartsWith($"Backfill job {jobId} of public.orders (pipeline pipeline) COMPLETED: 3,000 rows in ", (string)body["message"]!);
        Assert.Equal($"https://backfill.example.com/jobs/{jobId}", (string)body["link"]!);

        var log = await s.Http.WaitForDeliveryAsync(Timeout, (int)channel["id"]!, d => (string)d["status"]! == "DELIVERED");
        Assert.Equal(2, (int)log["attempts"]!);
        Assert.Equal(jobId, (int)log["job_id"]!);

        var test = await s.Http.PostJsonAsync($"/api/v1/notifications/{channel["id"]}/test");
        Assert.Equal(HttpStatusCode.Accepted, test.Status);
        requests = await receiver.WaitForAsync(r => r.Count >= 3, Timeout, "the test delivery");
        Assert.Equal("TEST", requests[2].Headers["X-Backfill-Event"]);
    }

    [Fact]
    public async Task VerificationMismatch_IsPostedWithTheMismatchedRanges()
    {
        using var receiver = new WebhookReceiver();
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres, "--Backfill:VerifyAfterLoad=none");
        await s.Http.PostOkAsync("/api/v1/notifications", new { name = "hook", url = receiver.Url, secret = Secret, events = new[] { "MISMATCH" } });
        var jobId = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        await PostgresServer.ExecuteAsync(s.DestinationDb, "DELETE FROM copy.orders WHERE id BETWEEN 10 AND 19");

        await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode = "count" });
        await s.Http.WaitForVerificationAsync(jobId, Timeout, "MISMATCH");
        var request = (await receiver.WaitForAsync(r => r.Count >= 1, Timeout, "the MISMATCH event")).Single();
        Assert.Equal("MISMATCH", request.Headers["X-Backfill-Event"]);
        var body = JsonNode.Parse(request.Body)!;
        Assert.Equal(1, (int)body["job"]!["verification"]!["ranges_mismatched"]!);
        Assert.Equal(3000L, (long)body["job"]!["verification"]!["mismatches"]![0]!["source_rows"]!);
        Assert.Equal($"Backfill job {jobId} of public.orders (pipeline pipeline): its verification found 1 mismatched ranges.", (string)body["message"]!);
    }

    [Fact]
    public async Task EngineKilledBeforeTheReceiverAnswersOk_AnotherEngineDeliversTheEvent()
    {
        var up = false;
        using var receiver = new WebhookReceiver();
        receiver.Answer = _ => Volatile.Read(ref up) ? 200 : 503;
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        await s.Http.PostOkAsync("/api/v1/notifications", new { name = "hook", url = receiver.Url, secret = Secret, events = new[] { "COMPLETED" } });
        using var doomed = AppProcess.Start(s.ConfigDb, "--Backfill:PollIntervalSeconds=1", "--Logging:LogLevel:Default=Warning");
        var jobId = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        await receiver.WaitForAsync(r => r.Count >= 1, Timeout, "a first attempt");
        // Let the attempt's outcome be recorded, so the survivor need not wait out the attempt's lease.
        await Task.Delay(500);
        doomed.Kill();

        Volatile.Write(ref up, true);
        await using var survivor = await s.StartPeerAsync("--Backfill:PollIntervalSeconds=1");
        var requests = await receiver.WaitForAsync(r => r.Any(x => x.AnsweredWith == 200), Timeout, "a delivery answered 200");
        Assert.Single(requests.Select(r => r.Headers["X-Backfill-Delivery"]).Distinct());
        Assert.Equal(jobId, (int)JsonNode.Parse(requests.Last().Body)!["job"]!["id"]!);
    }

    [Fact]
    public async Task InvalidChannels_Get400NamingTheField_AndNothingIsStored()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        (object Body, string Field)[] invalid =
        [
            (new { name = "a", url = "http://hooks.example.com/x", secret = Secret, events = new[] { "COMPLETED" } }, "url"),
            (new { name = "a", url = "ftp://127.0.0.1/x", secret = Secret, events = new[] { "COMPLETED" } }, "url"),
            (new { name = "a", url = "https://hooks.example.com/x", secret = "short", events = new[] { "COMPLETED" } }, "secret"),
            (new { name = "a", url = "https://hooks.example.com/x", events = new[] { "COMPLETED" } }, "secret"),
            (new { name = "a", url = "https://hooks.example.com/x", secret = Secret, events = new[] { "DONE" } }, "events"),
            (new { name = "a", url = "https://hooks.example.com/x", secret = Secret, events = Array.Empty<string>() }, "events"),
            (new { name = "", url = "https://hooks.example.com/x", secret = Secret, events = new[] { "FAILED" } }, "name"),
            (new { name = "a", type = "email", url = "https://hooks.example.com/x", secret = Secret, events = new[] { "FAILED" } }, "type"),
            (new { name = "a", url = "https://hooks.example.com/x", secret = Secret, events = new[] { "FAILED" }, pipeline_ids = new[] { 9999 } }, "pipeline_ids"),
        ];
        var failures = new List<string>();
        foreach (var (body, field) in invalid)
        {
            var (status, problem) = await s.Http.PostJsonAsync("/api/v1/notifications", body);
            if (status != HttpStatusCode.BadRequest || problem["errors"]?.AsObject().ContainsKey(field) != true)
                failures.Add($"expected 400 naming '{field}', got {(int)status} {problem.ToJsonString()}");
        }
        Assert.Empty(failures);
        Assert.Empty((await s.Http.GetOkAsync("/api/v1/notifications")).AsArray());
    }
}
