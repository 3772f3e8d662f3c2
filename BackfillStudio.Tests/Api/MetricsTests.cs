using System.Net;
using System.Text.RegularExpressions;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Api;

[Collection(RunsAlone.Name)]
public sealed class MetricsTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 4500) g;";

    [Fact]
    public async Task Metrics_CountRowsAndBatches_ForAllowedNetworksOnly()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        var job = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitForJobAsync(job, TimeSpan.FromMinutes(1), "COMPLETED");

        var text = await s.Http.GetStringAsync("/metrics");
        Assert.Equal(4500, Value(text, @"backfill_rows_written_total\{[^}]*table=""public\.orders""[^}]*\}"));
        Assert.Equal(5, Value(text, @"backfill_batch_duration_seconds_count\{[^}]*table=""public\.orders""[^}]*\}"));
        Assert.Equal(0, Value(text, @"backfill_jobs_active(\{[^}]*\})?"));
        Assert.Equal(0, Value(text, @"backfill_queue_depth(\{[^}]*\})?"));

        await using var restricted = await s.StartPeerAsync("--Backfill:EngineEnabled=false", "--Metrics:AllowedNetworks=10.0.0.0/8");
        using var refused = await restricted.Http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    private static double Value(string exposition, string series)
    {
        var match = Regex.Match(exposition, $@"^{series} (\S+)", RegexOptions.Multiline);
        Assert.True(match.Success, $"No '{series}' in:\n{exposition}");
        return double.Parse(match.Groups[^1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
