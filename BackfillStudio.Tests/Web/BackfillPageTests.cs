using BackfillStudio.Tests.Infrastructure;
using Microsoft.Playwright;

namespace BackfillStudio.Tests.Web;

[Collection(PostgresCollection.Name)]
public sealed class BackfillPageTests(PostgresServer pg)
{
    private const string SourceSql = """
        CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped');
        CREATE TABLE orders (id bigint PRIMARY KEY, status order_status NOT NULL, amount numeric(10,2) NOT NULL, note text);
        INSERT INTO orders SELECT g, (ARRAY['pending','paid','shipped']::order_status[])[1 + g % 3], g % 500, 'n' || g FROM generate_series(1, 60000) g;
        ANALYZE;
        """;

    [Fact]
    public async Task BackfillTab_CreatesAFilteredJob_AndShowsItCompleteLive()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.OpenAsync(new Uri(s.App.BaseAddress, $"/pipelines/{s.PipelineId}"));

        await Browser.SelectAsync(page, page.GetByTestId("table-select"), "public.orders");
        await page.GetByTestId("add-filter").ClickAsync();
        await page.GetByTestId("add-filter").ClickAsync();
        var rows = page.GetByTestId("filter-row");
        await Browser.SelectAsync(page, rows.Nth(0).GetByTestId("filter-column"), "status (order_status)");
        await rows.Nth(0).Locator("input").Last.FillAsync("paid");
        await Browser.SelectAsync(page, rows.Nth(1).GetByTestId("filter-column"), "amount (numeric(10,2))");
        await Browser.SelectAsync(page, rows.Nth(1).GetByTestId("filter-operator"), ">=");
        await rows.Nth(1).Locator("input").Last.FillAsync("100");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("create-backfill.png"), FullPage = true });
        await page.GetByTestId("create-job").ClickAsync();

        var status = page.GetByTestId("job-status").First;
        await Assertions.Expect(status).ToHaveTextAsync("COMPLETED", new LocatorAssertionsToHaveTextOptions { Timeout = 60_000 });
        var expected = await PostgresServer.ScalarAsync<long>(s.SourceDb, "SELECT count(*) FROM orders WHERE status = 'paid' AND amount >= 100");
        await Assertions.Expect(page.GetByTestId("job-count").First).ToContainTextAsync($"{expected:N0} / {expected:N0}");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("backfill-data.png"), FullPage = true });
    }
}
