using BackfillStudio.Tests.Infrastructure;
using Microsoft.Playwright;

namespace BackfillStudio.Tests.Web;

public sealed class TwoInstancesTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 20000) g;";

    [Fact]
    public async Task AJobCreatedOnOneInstance_RunsOnce_AndItsProgressShowsLiveOnTheOther()
    {
        // Instance A: web and API only, where the page is open. Instance B: web and engine, where the job is created and runs.
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        await using var engine = await s.StartPeerAsync("--Backfill:BatchSize=500");
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.OpenAsync(new Uri(s.App.BaseAddress, $"/pipelines/{s.PipelineId}"));
        await Assertions.Expect(page.GetByText("No backfill jobs yet")).ToBeVisibleAsync();

        var created = await engine.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.items" });
        var jobId = (int)created["id"]!;

        await Assertions.Expect(page.GetByTestId("job-id")).ToHaveTextAsync(jobId.ToString());
        await Assertions.Expect(page.GetByTestId("job-status")).ToHaveTextAsync("COMPLETED", new LocatorAssertionsToHaveTextOptions { Timeout = 60_000 });
        await Assertions.Expect(page.GetByTestId("job-count")).ToContainTextAsync("20,000 / 20,000");
        Assert.Equal(1, await PostgresServer.ScalarAsync<int>(s.ConfigDb, $"SELECT attempts FROM queue_backfill_data WHERE id = {jobId}"));
        Assert.Equal(20000L, (long)(await s.Http.GetJobAsync(jobId))["count_record"]!);
        Assert.Equal(20000L, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.items"));
    }
}
