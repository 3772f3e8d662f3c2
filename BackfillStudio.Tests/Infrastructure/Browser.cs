using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>Headless Chromium from Debian's <c>chromium</c> package, driven by Playwright (no browser download).</summary>
public sealed class Browser : IAsyncDisposable
{
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private Browser(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    public static async Task<Browser> LaunchAsync()
    {
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
        return new Browser(playwright, browser);
    }

    /// <summary>Opens a page as the test admin: the app sends the browser to its login page first.</summary>
    public async Task<IPage> OpenAsync(Uri url, int width = 1280, int height = 800)
    {
        var page = await NewPageAsync(width, height);
        await page.GotoAsync(url.ToString());
        await SignInAsync(page, "admin", TestApp.AdminPassword);
        await WaitForUrlAsync(page, url.ToString(), "Signing in", timeoutMs: 45_000);
        return page;
    }

    /// <summary>Waits until the browser is at a URL matching the glob; when it is not, the error shows what the page shows instead.</summary>
    /// <remarks>
    /// Not <c>IPage.WaitForURLAsync</c>: when the URL already matches, it waits for the page's <c>load</c> event, checking
    /// for it and then subscribing, and can miss an event that arrives in between (playwright-dotnet #3364), which timed
    /// out CI. A web-first assertion polls the URL and nothing else.
    /// </remarks>
    public static async Task WaitForUrlAsync(IPage page, string urlGlob, string action, float timeoutMs = 20_000)
    {
        try
        {
            await Assertions.Expect(page).ToHaveURLAsync(GlobPattern(urlGlob), new PageAssertionsToHaveURLOptions { Timeout = timeoutMs });
        }
        catch (PlaywrightException e)
        {
            // An open dialog (a validation message, say) or Blazor's reconnect notice says more than the page under it.
            var over = page.Locator(".mud-dialog, #components-reconnect-modal");
            var text = await (await over.CountAsync() > 0 ? over.First : page.Locator("body")).InnerTextAsync();
            throw new TimeoutException($"{action} did not lead to {urlGlob}; the browser is at {page.Url} showing: {text[..Math.Min(text.Length, 600)]}", e);
        }
    }

    /// <summary>Playwright's URL glob: <c>**</c> matches anything, <c>*</c> anything but a slash.</summary>
    private static Regex GlobPattern(string glob) =>
        new("^" + Regex.Escape(glob).Replace(@"\*\*", ".*").Replace(@"\*", "[^/]*") + "$");

    public static async Task SignInAsync(IPage page, string userName, string password)
    {
        await WaitForUrlAsync(page, "**/login**", "Opening a page signed out");
        await page.Locator("#username").FillAsync(userName);
        await page.Locator("#password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Sign in" }).ClickAsync();
    }

    public async Task<IPage> NewPageAsync(int width = 1280, int height = 800)
    {
        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        page.SetDefaultTimeout(20_000);
        return page;
    }

    /// <summary>Picks an item of a MudSelect: opens the select, then clicks the option with that text.</summary>
    public static async Task SelectAsync(IPage page, ILocator select, string optionText)
    {
        await select.ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item").Filter(new LocatorFilterOptions { HasText = optionText }).First.ClickAsync();
        await page.Locator(".mud-popover-open").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Detached });
    }

    /// <summary>Presses Tab until the element with this test id (or one inside it) has the keyboard focus.</summary>
    public static async Task TabToAsync(IPage page, string testId, int maxPresses = 60)
    {
        for (var i = 0; i < maxPresses; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<bool>("id => document.activeElement?.closest(`[data-testid='${id}']`) != null", testId)) return;
        }
        throw new InvalidOperationException($"'{testId}' was not reached with {maxPresses} presses of Tab.");
    }

    public static string ScreenshotPath(string name)
    {
        var directory = Path.Combine(RepositoryRoot(), "docs", "screenshots");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, name);
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "BackfillStudio.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("BackfillStudio.sln not found above the test folder.");
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
