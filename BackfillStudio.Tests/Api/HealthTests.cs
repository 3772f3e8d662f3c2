using System.Net;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;

namespace BackfillStudio.Tests.Api;

public sealed class HealthTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task Ready_FollowsTheConfigDatabase_WhileLiveOnlySaysTheProcessAnswers()
    {
        var configDb = await pg.CreateDatabaseAsync("config");
        await using var app = await TestApp.StartAsync(configDb, "--Backfill:EngineEnabled=false");

        await ExpectAsync(app, "/health/live", HttpStatusCode.OK, "Healthy");
        await ExpectAsync(app, "/health/ready", HttpStatusCode.OK, "Healthy");

        // A migration the database lacks (as when a newer build starts on an older database).
        await PostgresServer.ExecuteAsync(configDb, "DELETE FROM \"__EFMigrationsHistory\"");
        var lacking = await ExpectAsync(app, "/health/ready", HttpStatusCode.ServiceUnavailable, "Unhealthy");
        Assert.Contains("lacks", (string)lacking["checks"]!["config_database"]!["description"]!);

        var database = new NpgsqlConnectionStringBuilder(configDb).Database!;
        var admin = new NpgsqlConnectionStringBuilder(configDb) { Database = "postgres", Pooling = false }.ConnectionString;
        try
        {
            await PostgresServer.ExecuteAsync(admin, $"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false; " +
                $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
            var down = await ExpectAsync(app, "/health/ready", HttpStatusCode.ServiceUnavailable, "Unhealthy");
            Assert.Equal("The config database cannot be reached.", (string)down["checks"]!["config_database"]!["description"]!);
            Assert.DoesNotContain(new NpgsqlConnectionStringBuilder(configDb).Password!, down.ToJsonString());
            await ExpectAsync(app, "/health/live", HttpStatusCode.OK, "Healthy");
        }
        finally
        {
            await PostgresServer.ExecuteAsync(admin, $"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true");
        }
    }

    private static async Task<JsonObject> ExpectAsync(TestApp app, string path, HttpStatusCode status, string health)
    {
        using var response = await app.Http.GetAsync(path);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(health, (string)body["status"]!);
        return body;
    }
}
