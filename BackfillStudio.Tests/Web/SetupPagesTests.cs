using BackfillStudio.Tests.Infrastructure;
using Microsoft.Playwright;
using Npgsql;

namespace BackfillStudio.Tests.Web;

/// <summary>A newcomer's path through the pages: source, destination and pipeline set up in dialogs, then a backfill.</summary>
public sealed class SetupPagesTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(10,2) NOT NULL, note text);
        INSERT INTO orders SELECT g, g % 500, 'n' || g FROM generate_series(1, 5000) g;
        CREATE TABLE customers (id int PRIMARY KEY, name text);
        INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 10) g;
        ANALYZE;
        """;

    [Fact]
    public async Task SetupPages_CreateSourceDestinationAndPipeline_ThenABackfillRunsThroughThem()
    {
        var configDb = await pg.CreateDatabaseAsync("config");
        var sourceDb = await pg.CreateDatabaseAsync("source");
        await PostgresServer.ExecuteAsync(sourceDb, SourceSql);
        var source = new NpgsqlConnectionStringBuilder(sourceDb);
        var folder = Directory.CreateTempSubdirectory("backfill-setup-").FullName;
        await using var app = await TestApp.StartAsync(configDb, "--Backfill:BatchSize=1000");
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.OpenAsync(new Uri(app.BaseAddress, "/pipelines"));
        await Assertions.Expect(page.GetByTestId("empty-state")).ToContainTextAsync("No pipelines yet");

        // Source: a wrong password is reported by Test connection (without echoing it); the right one connects.
        await NavigateAsync(page, "Sources");
        await page.GetByTestId("empty-state").GetByRole(AriaRole.Button).ClickAsync();
        var dialog = Dialog(page, "source-dialog");
        await Field(dialog, "source-name").FillAsync("shop");
        await Field(dialog, "source-host").FillAsync(source.Host!);
        await Field(dialog, "source-port").FillAsync(source.Port.ToString());
        await Field(dialog, "source-database").FillAsync(source.Database!);
        await Field(dialog, "source-username").FillAsync(source.Username!);
        await Field(dialog, "source-password").FillAsync("Wrong-Secret-4711");
        await Browser.SelectAsync(page, dialog.GetByTestId("source-ssl-mode"), "disable");
        await dialog.GetByTestId("test-connection").ClickAsync();
        await Assertions.Expect(dialog.GetByTestId("test-result")).ToContainTextAsync("password authentication failed");
        await Assertions.Expect(dialog.GetByTestId("test-result")).Not.ToContainTextAsync("Wrong-Secret-4711");
        await Field(dialog, "source-password").FillAsync(source.Password!);
        await dialog.GetByTestId("test-connection").ClickAsync();
        await Assertions.Expect(dialog.GetByTestId("test-result")).ToContainTextAsync("Connected: PostgreSQL");
        await dialog.GetByTestId("save").ClickAsync();
        await Assertions.Expect(page.GetByTestId("sources-table")).ToContainTextAsync($"{source.Host}:{source.Port}");

        // Editing shows no stored password, and testing with the field left empty uses the stored one.
        await page.GetByTestId("row-edit").ClickAsync();
        await Assertions.Expect(Field(dialog, "source-password")).ToHaveValueAsync("");
        await Assertions.Expect(dialog).ToContainTextAsync("A password is stored");
        await dialog.GetByTestId("test-connection").ClickAsync();
        await Assertions.Expect(dialog.GetByTestId("test-result")).ToContainTextAsync("Connected: PostgreSQL");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("source-dialog.png") });
        await page.Keyboard.PressAsync("Escape");
        await Assertions.Expect(dialog).ToHaveCountAsync(0);

        // Destination: the form follows the type.
        await NavigateAsync(page, "Destinations");
        await page.GetByTestId("page-action").ClickAsync();
        dialog = Dialog(page, "destination-dialog");
        await Assertions.Expect(dialog.GetByTestId("config-host")).ToBeVisibleAsync();
        await Browser.SelectAsync(page, dialog.GetByTestId("destination-type"), "snowflake");
        await Assertions.Expect(dialog.GetByTestId("config-host")).ToHaveCountAsync(0);
        foreach (var field in new[] { "config-account", "config-user", "config-private_key", "config-warehouse", "config-identifier_case" })
            await Assertions.Expect(dialog.GetByTestId(field)).ToHaveCountAsync(1);
        await Browser.SelectAsync(page, dialog.GetByTestId("destination-type"), "duckdb");
        await Assertions.Expect(dialog.GetByTestId("config-host")).ToHaveCountAsync(0);
        await Field(dialog, "destination-name").FillAsync("warehouse");
        await dialog.GetByTestId("save").ClickAsync();
        await Assertions.Expect(dialog).ToContainTextAsync("'path' is required.");
        await Field(dialog, "config-path").FillAsync(Path.Combine(folder, "copy.duckdb"));
        await dialog.GetByTestId("test-connection").ClickAsync();
        await Assertions.Expect(dialog.GetByTestId("test-result")).ToContainTextAsync("Connected");
        await dialog.GetByTestId("save").ClickAsync();
        await Assertions.Expect(page.GetByTestId("destinations-table")).ToContainTextAsync("copy.duckdb");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("destinations.png") });

        // Pipeline: tables come from the live catalog, filtered by the search box.
        await NavigateAsync(page, "Pipelines");
        await page.GetByTestId("page-action").ClickAsync();
        dialog = Dialog(page, "pipeline-dialog");
        await Field(dialog, "pipeline-name").FillAsync("shop-to-warehouse");
        await Browser.SelectAsync(page, dialog.GetByTestId("pipeline-source"), "shop");
        await Assertions.Expect(dialog.GetByTestId("table-option")).ToHaveCountAsync(2);
        await Assertions.Expect(dialog.GetByTestId("table-list")).ToContainTextAsync("~5,000 rows");
        await Field(dialog, "table-search").FillAsync("ord");
        await Assertions.Expect(dialog.GetByTestId("table-option")).ToHaveCountAsync(1);
        await dialog.GetByTestId("table-option").ClickAsync();
        await dialog.GetByTestId("pipeline-destinations").ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item").Filter(new LocatorFilterOptions { HasText = "warehouse" }).ClickAsync();
        // A multi-select stays open after a pick; a second click on it closes it.
        await dialog.GetByTestId("pipeline-destinations").ClickAsync();
        await page.Locator(".mud-popover-open").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Detached });
        await Assertions.Expect(dialog).ToContainTextAsync("1 table(s) selected");
        await Assertions.Expect(Field(dialog, "pipeline-destinations")).ToHaveValueAsync("warehouse");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("pipeline-dialog.png") });
        await dialog.GetByTestId("save").ClickAsync();
        await Browser.WaitForUrlAsync(page, "**/pipelines/*", "Creating the pipeline");

        await page.GetByTestId("open-create-backfill").ClickAsync();
        await Browser.SelectAsync(page, page.GetByTestId("table-select"), "public.orders");
        await page.GetByTestId("create-job").ClickAsync();
        await Assertions.Expect(page.GetByTestId("job-status").First).ToHaveTextAsync("COMPLETED", new LocatorAssertionsToHaveTextOptions { Timeout = 60_000 });
        await Assertions.Expect(page.GetByTestId("job-count").First).ToContainTextAsync("5,000 / 5,000");

        await NavigateAsync(page, "Pipelines");
        var row = page.GetByTestId("pipelines-table").Locator("tbody tr");
        await Assertions.Expect(row).ToContainTextAsync("shop");
        await Assertions.Expect(row).ToContainTextAsync("warehouse (duckdb)");
        await Assertions.Expect(row.GetByTestId("job-status")).ToHaveTextAsync("COMPLETED");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("pipelines.png") });
    }

    /// <summary>Follows a link of the navigation drawer and waits until that page has replaced the current one.</summary>
    private static async Task NavigateAsync(IPage page, string name)
    {
        await page.GetByRole(AriaRole.Complementary).GetByRole(AriaRole.Link, new LocatorGetByRoleOptions { Name = name }).ClickAsync();
        await Assertions.Expect(page).ToHaveTitleAsync($"{name} · BackfillStudio");
        await Assertions.Expect(page.GetByRole(AriaRole.Progressbar)).ToHaveCountAsync(0);
    }

    /// <summary>The whole open dialog (title, content and actions) whose content carries the test id.</summary>
    private static ILocator Dialog(IPage page, string testId) => page.Locator($".mud-dialog:has([data-testid='{testId}'])");

    /// <summary>The input of a MudBlazor field found by its test id (on the input itself, or on an element around it).</summary>
    private static ILocator Field(ILocator scope, string testId) =>
        scope.Locator($"[data-testid='{testId}']:is(input, textarea), [data-testid='{testId}'] :is(input, textarea)").First;
}
