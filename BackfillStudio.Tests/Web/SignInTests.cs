using BackfillStudio.Tests.Infrastructure;
using Microsoft.Playwright;

namespace BackfillStudio.Tests.Web;

public sealed class SignInTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 50) g;";
    private const string ViewerPassword = "Viewer-Pa55word-1";

    [Fact]
    public async Task WrongPasswords_AreRefused_AndLockTheAccountAfterFiveAttempts()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(s.App.BaseAddress, "/sources").ToString());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("login.png") });

        for (var attempt = 1; attempt <= 5; attempt++)
        {
            await Browser.SignInAsync(page, "admin", $"not-the-password-{attempt}");
            await Assertions.Expect(page.GetByTestId("login-error")).ToBeVisibleAsync();
        }
        await Assertions.Expect(page.GetByTestId("login-error")).ToContainTextAsync("locked");
        await Browser.SignInAsync(page, "admin", TestApp.AdminPassword);
        await Assertions.Expect(page.GetByTestId("login-error")).ToContainTextAsync("locked");
        Assert.Contains("/login", page.Url);
    }

    [Fact]
    public async Task AViewer_SeesButCannotChange_AndADisabledUserCannotSignIn()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        await s.StartBackfillAsync("public.items");
        await using var browser = await Browser.LaunchAsync();

        // The admin creates the viewer on the Users page.
        var admin = await browser.OpenAsync(new Uri(s.App.BaseAddress, "/users"));
        await admin.Locator("input[data-testid=new-user-name]").FillAsync("viewer1");
        await admin.Locator("input[data-testid=new-user-password]").FillAsync(ViewerPassword);
        await Browser.SelectAsync(admin, admin.GetByTestId("new-user-role"), "Viewer");
        await admin.GetByTestId("create-user").ClickAsync();
        await Assertions.Expect(admin.GetByTestId("users-table")).ToContainTextAsync("viewer1");
        await admin.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("users.png") });

        var viewer = await browser.NewPageAsync();
        await viewer.GotoAsync(new Uri(s.App.BaseAddress, $"/pipelines/{s.PipelineId}").ToString());
        await Browser.SignInAsync(viewer, "viewer1", ViewerPassword);
        await Assertions.Expect(viewer.GetByTestId("job-status")).ToHaveTextAsync("PENDING");
        await Assertions.Expect(viewer.GetByTestId("signed-in-user")).ToHaveTextAsync("viewer1");
        await Assertions.Expect(viewer.GetByTestId("open-create-backfill")).ToHaveCountAsync(0);
        await Assertions.Expect(viewer.GetByTestId("cancel-job")).ToHaveCountAsync(0);
        await Assertions.Expect(viewer.GetByTestId("delete-job")).ToHaveCountAsync(0);
        await viewer.GotoAsync(new Uri(s.App.BaseAddress, "/sources").ToString());
        await Assertions.Expect(viewer.GetByTestId("sources-table")).ToBeVisibleAsync();
        await Assertions.Expect(viewer.GetByTestId("page-action")).ToHaveCountAsync(0);
        await Assertions.Expect(viewer.GetByTestId("row-edit")).ToHaveCountAsync(0);
        await viewer.GotoAsync(new Uri(s.App.BaseAddress, "/users").ToString());
        await Assertions.Expect(viewer.GetByText("Your role does not allow this page.")).ToBeVisibleAsync();
        await Assertions.Expect(viewer.GetByTestId("users-table")).ToHaveCountAsync(0);

        // Signing out ends the session.
        await viewer.GotoAsync(new Uri(s.App.BaseAddress, "/logout").ToString());
        await viewer.GetByTestId("confirm-logout").ClickAsync();
        await Browser.WaitForUrlAsync(viewer, "**/login**", "Signing out");

        // Once disabled, the viewer cannot sign in again.
        await admin.ReloadAsync();
        await admin.GetByTestId("users-table").Locator("tr", new LocatorLocatorOptions { HasText = "viewer1" })
            .GetByRole(AriaRole.Button, new LocatorGetByRoleOptions { Name = "Disable" }).ClickAsync();
        await Assertions.Expect(admin.GetByTestId("users-table")).ToContainTextAsync("disabled");
        await Browser.SignInAsync(viewer, "viewer1", ViewerPassword);
        await Assertions.Expect(viewer.GetByTestId("login-error")).ToContainTextAsync("disabled");
    }
}
