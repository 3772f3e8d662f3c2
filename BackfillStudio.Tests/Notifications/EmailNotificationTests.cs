using System.Net;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Notifications;

/// <summary>E-mail channels through a real SMTP server in the test process.</summary>
public sealed class EmailNotificationTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    // numeric NaN: DuckDB's DECIMAL (Parquet's stage) cannot hold it, so a job of table "bad" fails naming the value.
    private const string SourceSql = """
        CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(10,2) NOT NULL);
        INSERT INTO orders SELECT g, g % 500 FROM generate_series(1, 3000) g;
        CREATE TABLE bad (id bigint PRIMARY KEY, amount numeric(10,2));
        INSERT INTO bad VALUES (1, 1), (2, 'NaN');
        """;

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task CompletedAndFailedJobs_AreMailed_AndAMailWhileTheServerIsDownArrivesWhenItIsBack()
    {
        using var smtp = new SmtpSink();
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders", "public.bad"], DestinationKinds.Postgres | DestinationKinds.Parquet,
            [.. smtp.Settings, "--Notifications:PublicUrl=https://backfill.example.com"]);
        var channel = await s.Http.PostOkAsync("/api/v1/notifications", new
        {
            name = "ops mail", type = "email", recipients = new[] { "ops@example.com", "Data Team <data@example.com>" }, events = new[] { "COMPLETED", "FAILED" },
        });
        Assert.Equal("email", (string)channel["type"]!);
        Assert.False((bool)channel["has_secret"]!);

        // The SMTP server is down: the delivery is tried, and tried again.
        var completed = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitForJobAsync(completed, Timeout, "COMPLETED");
        var pending = await s.Http.WaitForDeliveryAsync(Timeout, (int)channel["id"]!, d => (int)d["attempts"]! >= 2);
        Assert.Equal("PENDING", (string)pending["status"]!);
        Assert.Contains($"The SMTP server 127.0.0.1:{smtp.Port} did not take the mail", (string)pending["last_error"]!);

        smtp.Start();
        var mail = await smtp.WaitForAsync(m => m.Subject?.Contains("COMPLETED") == true, Timeout, "for the completed job");
        Assert.Equal($"[BackfillStudio] Job {completed} COMPLETED: public.orders", mail.Subject);
        Assert.Equal(["ops@example.com", "data@example.com"], mail.To.Mailboxes.Select(m => m.Address));
        Assert.Equal("backfill@example.com", mail.From.Mailboxes.Single().Address);
        Assert.StartsWith($"Backfill job {completed} of public.orders (pipeline pipeline) COMPLETED: 3,000 rows in ", mail.TextBody);
        // Notifications:PublicUrl, the first name of App:PublicUrl, still works.
        Assert.Contains($"Open: https://backfill.example.com/jobs/{completed}", mail.TextBody);
        Assert.Equal((string)pending["delivery_id"]! + "@backfillstudio", mail.MessageId);

        var failed = await s.StartBackfillAsync("public.bad");
        var job = await s.Http.WaitForJobAsync(failed, Timeout, "FAILED");
        mail = await smtp.WaitForAsync(m => m.Subject?.Contains("FAILED") == true, Timeout, "for the failed job");
        Assert.Equal($"[BackfillStudio] Job {failed} FAILED: public.bad", mail.Subject);
        Assert.Contains((string)job["error_message"]!, mail.TextBody);
        Assert.Contains("NaN", mail.TextBody);

        // The sink has the mail a moment before the dispatcher records the delivery (CI read it PENDING once).
        var deadline = DateTime.UtcNow + Timeout;
        System.Text.Json.Nodes.JsonArray log;
        while ((log = (await s.Http.GetOkAsync($"/api/v1/notifications/{channel["id"]}/deliveries")).AsArray())
               .Any(d => (string)d!["status"]! != "DELIVERED") && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.All(log, d => Assert.Equal("DELIVERED", (string)d!["status"]!));
        Assert.Equal(2, log.Count);
    }

    [Fact]
    public async Task EmailChannels_NeedAnSmtpServer_AndValidRecipients()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var (status, problem) = await s.Http.PostJsonAsync("/api/v1/notifications",
            new { name = "mail", type = "email", recipients = new[] { "ops@example.com" }, events = new[] { "FAILED" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Smtp:Host", (string)problem["errors"]!["type"]![0]!);

        using var smtp = new SmtpSink();
        await using var configured = await s.StartPeerAsync([.. smtp.Settings, "--Backfill:EngineEnabled=false"]);
        (status, problem) = await configured.Http.PostJsonAsync("/api/v1/notifications",
            new { name = "mail", type = "email", recipients = new[] { "not an address" }, events = new[] { "FAILED" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem["errors"]!.AsObject().ContainsKey("recipients"), problem.ToJsonString());
        (status, problem) = await configured.Http.PostJsonAsync("/api/v1/notifications", new { name = "mail", type = "email", events = new[] { "FAILED" } });
        Assert.True(status == HttpStatusCode.BadRequest && problem["errors"]!.AsObject().ContainsKey("recipients"), problem.ToJsonString());
    }
}
