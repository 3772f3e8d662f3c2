using System.Net;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;
using Microsoft.Playwright;

namespace BackfillStudio.Tests.Web;

/// <summary>The API reference page (Scalar over the OpenAPI document): for signed-in users, listing each endpoint's error answers.</summary>
public sealed class ApiReferenceTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task ApiReference_RendersForASignedInUser_AndSendsAnonymousUsersToSignIn()
    {
        await using var s = await Scenario.CreateAsync(pg, "CREATE TABLE items (id int PRIMARY KEY);", ["public.items"], DestinationKinds.Postgres,
            "--Backfill:EngineEnabled=false");
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = s.App.BaseAddress };
        using var refused = await anonymous.GetAsync("/api/reference");
        Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
        Assert.StartsWith("/login", refused.Headers.Location!.PathAndQuery);

        var document = (await s.Http.GetOkAsync("/openapi/v1.json")).AsObject();
        var verify = document["paths"]!["/api/v1/backfill/{jobId}/verify"]!["post"]!["responses"]!.AsObject();
        Assert.Equal(["202", "400", "401", "403", "404", "409"], verify.Select(r => r.Key).Order(StringComparer.Ordinal));

        await using var browser = await Browser.LaunchAsync();
        // Scalar serves the page at the path with a trailing slash.
        var page = await browser.OpenAsync(new Uri(s.App.BaseAddress, "/api/reference/"));
        Assert.Equal("BackfillStudio API", await page.TitleAsync());
        // Rendered from the OpenAPI document, fetched with the user's sign-in: the first group's operations and their answers.
        await Assertions.Expect(page.GetByText("/api/v1/sources/{id}/tables/{tableName}/columns").First)
            .ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 30_000 });
        await Assertions.Expect(page.GetByText("Conflict").First).ToBeAttachedAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath("api-reference.png") });
    }
}
