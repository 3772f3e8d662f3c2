using System.Text.RegularExpressions;
using BackfillStudio.Tests.Infrastructure;
using Microsoft.Playwright;

namespace BackfillStudio.Tests.Web;

public sealed class NotificationsPageTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(10,2) NOT NULL);
        INSERT INTO orders SELECT g, g % 500 FROM generate_series(1, 2000) g;
        """;

    [Fact]
    public async Task AdminAddsAWebhook_SendsATest_AndSeesTheJobsEventDelivered()
    {
        using var receiver = new WebhookReceiver();
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres);
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.OpenAsync(new Uri(s.App.BaseAddress, "/notifications"));

        await page.GetByTestId("channel-name").FillAsync("ops hook");
        await page.GetByTestId("channel-url").FillAsync(receiver.Url);
        await page.GetByTestId("channel-secret").FillAsync("short");
        await page.GetByTestId("create-channel").ClickAsync();
        await Assertions.Expect(page.GetByText("secret is required: at least 16 characters")).ToBeVisibleAsync();
        await page.GetByTestId("channel-secret").FillAsync("a-long-enough-signing-secret");
        // Subscribed to the scenario's pipeline (named "pipeline"); the list stays open for more picks until Escape.
        await page.GetByTestId("channel-pipelines").ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item").Filter(new LocatorFilterOptions { HasText = "pipeline" }).First.ClickAsync();
        await page.Keyboard.PressAsync("Escape");
        await page.GetByTestId("create-channel").ClickAsync();
        var row = page.GetByTestId("channels-table").Locator("tbody tr").Filter(new LocatorFilterOptions { HasText = "ops hook" });
        await Assertions.Expect(row).ToContainTextAsync("COMPLETED, FAILED");
        await Assertions.Expect(row.Locator("td").Nth(3)).ToHaveTextAsync("pipeline");

        await row.GetByTestId("send-test").ClickAsync();
        var deliveries = page.GetByTestId("deliveries-table").Locator("tbody tr");
        await Assertions.Expect(deliveries.First).ToContainTextAsync("TEST");
        await Assertions.Expect(deliveries.First.GetByTestId("delivery-status")).ToHaveTextAsync("DELIVERED", new LocatorAssertionsToHaveTextOptions { Timeout = 30_000 });
        Assert.Equal("TEST", receiver.Requests.Single().Headers["X-Backfill-Event"]);

        var jobId = await s.StartBackfillAsync("public.orders");
        await Assertions.Expect(deliveries.First).ToContainTextAsync(new Regex($@"COMPLETED\s*{jobId}\s*DELIVERED\s*1\b"),
            new LocatorAssertionsToContainTextOptions { Timeout = 60_000 });
        Assert.Equal(["TEST", "COMPLETED"], receiver.Requests.Select(r => r.Headers["X-Backfill-Event"]));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("notifications.png"), FullPage = true });
    }
}
