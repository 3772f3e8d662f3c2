using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;
using BackfillStudio.Web.Access;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace BackfillStudio.Tests.Access;

public sealed class AccessControlTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 50) g;";

    /// <summary>What anyone may reach: the sign-in page, the health probes and static files (CSS, scripts).</summary>
    private static bool IsAnonymous(string pattern) =>
        pattern is "/login" or "/health/live" or "/health/ready" || pattern.StartsWith("/_content/", StringComparison.Ordinal)
        || pattern.StartsWith("/_framework/", StringComparison.Ordinal) || Path.HasExtension(pattern) && !pattern.StartsWith("/openapi", StringComparison.Ordinal);

    [Fact]
    public async Task EveryRoute_RefusesRequestsWithoutCredentials()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = s.App.BaseAddress };
        using var wrongKey = new HttpClient { BaseAddress = s.App.BaseAddress };
        wrongKey.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "bfs_not-a-key");

        var routes = Routes(s.App).Where(r => !IsAnonymous(r.Pattern)).ToList();
        Assert.Contains(routes, r => r.Pattern.StartsWith("/api/v1/", StringComparison.Ordinal));
        Assert.Contains(routes, r => r.Pattern == "/pipelines/{Id:int}");
        Assert.Contains(routes, r => r.Pattern.StartsWith("/_blazor", StringComparison.Ordinal));
        foreach (var (method, pattern) in routes)
        {
            var path = Concrete(pattern);
            using var response = await anonymous.SendAsync(Request(method, path));
            if (path.StartsWith("/api/v1/", StringComparison.Ordinal))
            {
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path}: {response.StatusCode}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                using var withWrongKey = await wrongKey.SendAsync(Request(method, path));
                Assert.True(withWrongKey.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path} with a wrong key: {withWrongKey.StatusCode}");
            }
            else
            {
                Assert.True(response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Unauthorized, $"{method} {path}: {response.StatusCode}");
                if (response.StatusCode == HttpStatusCode.Redirect)
                    Assert.StartsWith("/login", response.Headers.Location!.PathAndQuery);
            }
        }
        using var health = await anonymous.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Roles_AreEnforcedOnEveryApiEndpoint()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var keys = s.App.Get<ApiKeyService>();
        var api = Routes(s.App).Where(r => r.Pattern.StartsWith("/api/v1/", StringComparison.Ordinal)).ToList();
        var created = new Dictionary<string, CreatedApiKey>();
        foreach (var role in AccessRoles.All)
        {
            var key = created[role] = await keys.CreateAsync($"{role} key", role, "test", CancellationToken.None);
            using var client = new HttpClient { BaseAddress = s.App.BaseAddress };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
            foreach (var (method, pattern) in api)
            {
                // Bodies and ids need not be valid: a refused request never gets as far as validation.
                using var response = await client.SendAsync(Request(method, Concrete(pattern, s.PipelineId), new JsonObject()));
                var expected = Allowed(role, method, pattern) ? "allowed" : "forbidden";
                var actual = response.StatusCode == HttpStatusCode.Forbidden ? "forbidden" : response.StatusCode == HttpStatusCode.Unauthorized ? "unauthorized" : "allowed";
                Assert.True(expected == actual, $"{role}: {method} {pattern} was {actual} ({response.StatusCode})");
            }
        }
        var listed = await keys.ListAsync(CancellationToken.None);
        Assert.All(listed, k => Assert.NotNull(k.LastUsedAt));

        var viewerKey = created[AccessRoles.Viewer];
        await keys.RevokeAsync(viewerKey.View.Id, CancellationToken.None);
        using var revokedClient = new HttpClient { BaseAddress = s.App.BaseAddress };
        revokedClient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", viewerKey.Key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await revokedClient.GetAsync("/api/v1/pipelines")).StatusCode);
        Assert.NotNull((await keys.ListAsync(CancellationToken.None)).Single(k => k.Id == viewerKey.View.Id).RevokedAt);
    }

    [Fact]
    public async Task Jobs_RecordWhoCreatedCancelledAndDeletedThem()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var operatorKey = await s.App.Get<ApiKeyService>().CreateAsync("nightly", AccessRoles.Operator, "admin", CancellationToken.None);
        using var client = new HttpClient { BaseAddress = s.App.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", operatorKey.Key);

        var (created, job) = await client.PostJsonAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.items" });
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal("API key 'nightly'", (string)job["created_by"]!);
        var (_, cancelled) = await s.Http.PostJsonAsync($"/api/v1/backfill/{(int)job["id"]!}/cancel");
        Assert.Equal("bootstrap API key", (string)cancelled["cancelled_by"]!);
        Assert.NotNull(cancelled["cancelled_at"]);

        // A deleted job disappears from the lists and GET, but stays on record with who deleted it.
        var jobId = (int)job["id"]!;
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/v1/backfill/{jobId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await s.Http.GetAsync($"/api/v1/backfill/{jobId}")).StatusCode);
        Assert.Equal(0, (int)(await s.Http.GetOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill"))["total"]!);
        var audit = (await s.Http.GetOkAsync($"/api/v1/backfill?include_deleted=true"))["items"]!.AsArray().Single()!;
        Assert.Equal("API key 'nightly'", (string)audit["deleted_by"]!);
        Assert.NotNull(audit["deleted_at"]);

        // A pending job that was deleted is never run: the engine takes the oldest pending job first, and skips it.
        var deletedPending = await s.StartBackfillAsync("public.items");
        Assert.Equal(HttpStatusCode.NoContent, (await s.Http.DeleteAsync($"/api/v1/backfill/{deletedPending}")).StatusCode);
        var next = await s.StartBackfillAsync("public.items");
        await using var engine = await s.StartPeerAsync();
        await s.Http.WaitForJobAsync(next, TimeSpan.FromMinutes(1), "COMPLETED");
        Assert.Equal(0, await PostgresServer.ScalarAsync<int>(s.ConfigDb, $"SELECT attempts FROM queue_backfill_data WHERE id = {deletedPending}"));
    }

    [Fact]
    public async Task FirstStart_CreatesTheAdmin_AndPrintsAGeneratedPasswordOnlyOnce()
    {
        var configDb = await pg.CreateDatabaseAsync("config");
        string[] settings = ["--Backfill:EngineEnabled=false", "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information"];
        string printed;
        using (var first = AppProcess.Start(configDb, settings))
        {
            await first.WaitForOutputAsync("Now listening", TimeSpan.FromMinutes(1));
            printed = AdminPasswordIn(first.Output);
        }
        using (var second = AppProcess.Start(configDb, settings))
        {
            await second.WaitForOutputAsync("Now listening", TimeSpan.FromMinutes(1));
            Assert.DoesNotContain("created the user", second.Output);
        }

        await using var app = await TestApp.StartAsync(configDb, "--Backfill:EngineEnabled=false");
        using var scope = app.Services.CreateScope();
        var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<BackfillStudio.Engine.Persistence.AppUser>>();
        var admin = await users.FindByNameAsync("admin");
        Assert.NotNull(admin);
        Assert.True(await users.CheckPasswordAsync(admin, printed), "the printed password does not sign the admin in");
        Assert.False(await users.CheckPasswordAsync(admin, TestApp.AdminPassword), "a later start replaced the admin's password");
        Assert.True(await users.IsInRoleAsync(admin, AccessRoles.Admin));
    }

    private static string AdminPasswordIn(string output)
    {
        var lines = output.Split('\n').Select(l => l.Trim()).ToList();
        var at = lines.FindIndex(l => l.Contains("created the user 'admin'", StringComparison.Ordinal));
        Assert.True(at >= 0, $"No generated password was printed:\n{output}");
        return lines.Skip(at + 1).First(l => l.Length > 0);
    }

    private static bool Allowed(string role, string method, string pattern)
    {
        if (role == AccessRoles.Admin) return true;
        // Notification channels are Admin-only, reading included: a webhook URL can carry the receiver's token.
        if (pattern.StartsWith("/api/v1/notifications", StringComparison.Ordinal)) return false;
        if (method == "GET") return true;
        var backfill = pattern.Contains("/backfill", StringComparison.Ordinal) || pattern.Contains("/schedules", StringComparison.Ordinal);
        return role == AccessRoles.Operator && backfill;
    }

    private static List<(string Method, string Pattern)> Routes(TestApp app) =>
        app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (m, "/" + e.RoutePattern.RawText!.TrimStart('/'))))
            .Distinct()
            .ToList();

    /// <summary>A path for a route pattern: numeric ids where an int is expected, a word elsewhere.</summary>
    private static string Concrete(string pattern, int id = 1) =>
        System.Text.RegularExpressions.Regex.Replace(pattern, @"\{([^}:]+)(:[^}]+)?\}", m => m.Groups[2].Value.Contains("int") ? id.ToString() : "x")
            .Replace("{*path}", "x", StringComparison.Ordinal);

    private static HttpRequestMessage Request(string method, string path, JsonObject? body = null) =>
        new(new HttpMethod(method), path) { Content = method is "GET" or "DELETE" ? null : JsonContent.Create(body ?? new JsonObject()) };
}
