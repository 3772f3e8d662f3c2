using BackfillStudio.Tests.Infrastructure;
using Npgsql;

namespace BackfillStudio.Tests.Api;

[Collection(RunsAlone.Name)]
public sealed class TracingTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 4500) g;";

    [Fact]
    public async Task AJobsSourceAndDestinationCommands_AreTracedUnderItsBatches_AndTheEnginesHousekeepingIsNot()
    {
        await using var collector = await OtlpCollector.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000",
            $"--OTEL_EXPORTER_OTLP_ENDPOINT={collector.Endpoint}", "--OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "--OTEL_BSP_SCHEDULE_DELAY=200");
        var jobId = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(1), "COMPLETED");

        var spans = await collector.WaitForAsync(all => all.Any(span => span.Name == "backfill.job"), TimeSpan.FromSeconds(30), "the job's span");
        var job = Assert.Single(spans, span => span.Name == "backfill.job");
        Assert.Equal(jobId.ToString(System.Globalization.CultureInfo.InvariantCulture), job.Attributes["backfill.job_id"]);
        Assert.Equal("public.orders", job.Attributes["backfill.table"]);
        var trace = spans.Where(span => span.TraceId == job.TraceId).ToList();
        var batches = trace.Where(span => span.Name == "backfill.batch" && span.ParentSpanId == job.SpanId).ToList();
        Assert.Equal(5, batches.Count);
        var writes = trace.Where(span => span.Name == "backfill.write").ToList();
        Assert.Equal(5, writes.Count);
        Assert.All(writes, write => Assert.Contains(batches, batch => batch.SpanId == write.ParentSpanId));

        var sourceDb = new NpgsqlConnectionStringBuilder(s.SourceDb).Database!;
        var destinationDb = new NpgsqlConnectionStringBuilder(s.DestinationDb).Database!;
        var commands = spans.Where(span => span.Attributes.GetValueOrDefault("db.system.name") is "postgresql").ToList();
        var sourceCommands = commands.Where(span => span.Attributes.Values.Contains(sourceDb)).ToList();
        var destinationCommands = commands.Where(span => span.Attributes.Values.Contains(destinationDb)).ToList();
        Assert.Contains(sourceCommands, span => span.TraceId == job.TraceId && span.Attributes.Values.Any(v => v.Contains("orders", StringComparison.Ordinal)));
        Assert.Contains(destinationCommands, span => writes.Any(write => write.SpanId == span.ParentSpanId));
        // The claim ran before the job's span began, and heartbeats and the queue poll run on their own: none is exported.
        Assert.All(commands, span => Assert.NotEqual("", span.ParentSpanId));
        Assert.DoesNotContain(spans.SelectMany(span => span.Attributes.Values), v => v.Contains("Password=", StringComparison.OrdinalIgnoreCase));
    }
}
