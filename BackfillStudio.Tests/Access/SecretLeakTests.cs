using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Destinations;
using BackfillStudio.Tests.Infrastructure;
using BackfillStudio.Tests.Snowflake;
using Npgsql;

namespace BackfillStudio.Tests.Access;

/// <summary>Passwords, keys and passphrases never show in a log line (any level), an API response or a plain column.</summary>
public sealed class SecretLeakTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 200) g;";
    private const string WebhookSecret = "Webhook-Signing-Secret-Never-Shown-42";
    private static readonly string[] Verbose = ["--Logging:LogLevel:Default=Trace", "--Logging:Console:LogLevel:Default=Warning", "--Backfill:BatchSize=50"];

    [Fact]
    public async Task WrongPasswords_FailedJobs_AndSnowflakeKeys_LeaveNoSecretInLogsOrResponses()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, Verbose);
        var logs = LogCapture.Attach(s.App);
        var source = new NpgsqlConnectionStringBuilder(s.SourceDb);
        var destination = new NpgsqlConnectionStringBuilder(s.DestinationDb);
        const string wrong = "Wr0ng-Secret-Never-Logged-7";
        var responses = new List<string>();

        // A Snowflake destination with the encrypted key; a job through it and a connection test with a key it does not know.
        var snowflake = await s.Http.PostOkAsync("/api/v1/destinations", new { name = "snow", type = "snowflake", config = account.Config() });
        responses.Add(snowflake.ToJsonString());
        var (_, badKey) = await s.Http.PostJsonAsync("/api/v1/destinations/test",
            new { name = "x", type = "snowflake", config = account.Config(System.Security.Cryptography.RSA.Create(2048).ExportPkcs8PrivateKeyPem()) });
        responses.Add(badKey.ToJsonString());
        var pipeline = await s.Http.PostOkAsync("/api/v1/pipelines", new
        {
            name = "to-snowflake", source_id = s.SourceId, destination_ids = new[] { (int)snowflake["id"]! }, tables = new[] { new { table_name = "public.items" } },
        });
        var good = await s.Http.PostOkAsync($"/api/v1/pipelines/{(int)pipeline["id"]!}/backfill", new { table_name = "public.items" });
        responses.Add((await s.Http.WaitForJobAsync((int)good["id"]!, TimeSpan.FromMinutes(1), "COMPLETED", "FAILED")).ToJsonString());

        // The destination's password goes wrong: a job fails with the reason but without the secret.
        using (var put = await s.Http.PutAsJsonAsync($"/api/v1/destinations/{s.DestinationIds[0]}", new
               {
                   name = "pg", type = "postgres",
                   config = new { host = destination.Host, port = destination.Port, database = destination.Database, username = destination.Username, password = wrong, ssl_mode = "disable" },
               }, TestApp.Json))
            responses.Add(await put.Content.ReadAsStringAsync());
        var failing = await s.StartBackfillAsync("public.items");
        var failed = await s.Http.WaitForJobAsync(failing, TimeSpan.FromMinutes(1), "FAILED", "COMPLETED");
        Assert.Equal("FAILED", (string)failed["status"]!);
        Assert.Contains("password authentication failed", (string)failed["error_message"]!);
        responses.Add(failed.ToJsonString());

        // The source's password goes wrong too: its connection test reports why, without the secret.
        using (var put = await s.Http.PutAsJsonAsync($"/api/v1/sources/{s.SourceId}", new
               {
                   name = "source", host = source.Host, port = source.Port, database = source.Database, username = source.Username,
                   password = wrong, ssl_mode = "disable",
               }, TestApp.Json))
            responses.Add(await put.Content.ReadAsStringAsync());
        var (_, test) = await s.Http.PostJsonAsync($"/api/v1/sources/{s.SourceId}/test");
        Assert.False((bool)test["success"]!);
        responses.Add(test.ToJsonString());
        responses.Add((await s.Http.GetOkAsync("/api/v1/sources")).ToJsonString());
        responses.Add((await s.Http.GetOkAsync("/api/v1/destinations")).ToJsonString());

        // A webhook whose receiver refuses every delivery: its secret signs each attempt and shows nowhere.
        using var receiver = new WebhookReceiver { Answer = _ => 500 };
        var channel = await s.Http.PostOkAsync("/api/v1/notifications", new { name = "hook", url = receiver.Url, secret = WebhookSecret, events = new[] { "FAILED" } });
        responses.Add(channel.ToJsonString());
        responses.Add((await s.Http.PostJsonAsync($"/api/v1/notifications/{channel["id"]}/test")).Body.ToJsonString());
        await receiver.WaitForAsync(r => r.Count >= 2, TimeSpan.FromMinutes(1), "two refused attempts");
        responses.Add((await s.Http.GetOkAsync($"/api/v1/notifications/{channel["id"]}/deliveries")).ToJsonString());
        responses.Add((await s.Http.GetOkAsync("/api/v1/notifications")).ToJsonString());

        var text = logs.Text;
        Assert.Contains("password authentication failed", text);
        var keyLine = SnowflakeUnitTests.EncryptedKeyPem.Split('\n')[2].Trim();
        string[] secrets = [wrong, source.Password!, destination.Password!, keyLine, SnowflakeAccount.Passphrase, TestApp.AdminPassword, TestApp.ApiKey, WebhookSecret];
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, text);
            Assert.All(responses, r => Assert.DoesNotContain(secret, r));
        }

        var plainColumns = await PostgresServer.ScalarAsync<string>(s.ConfigDb,
            "SELECT string_agg(t::text, ' ') FROM (SELECT s::text AS t FROM sources s UNION ALL SELECT d::text FROM destinations d UNION ALL SELECT k::text FROM api_keys k UNION ALL SELECT u::text FROM users u UNION ALL SELECT c::text FROM notification_channels c) rows");
        Assert.All(secrets, secret => Assert.DoesNotContain(secret, plainColumns));
    }

    /// <summary>
    /// Configs that validate, per registered destination type; together they set every secret field of the type.
    /// A new type fails this test until it has an example here.
    /// </summary>
    private static IReadOnlyList<JsonObject> Examples(string type) => type switch
    {
        "postgres" => [new JsonObject { ["host"] = "127.0.0.1", ["port"] = 1, ["database"] = "d", ["username"] = "u", ["password"] = "pg-Secret-Marker-1", ["ssl_mode"] = "disable" }],
        "duckdb" => [new JsonObject { ["path"] = Path.Combine(Path.GetTempPath(), $"registry-{Guid.NewGuid():N}.duckdb") }],
        "parquet" => [new JsonObject { ["path"] = Path.Combine(Path.GetTempPath(), $"registry-{Guid.NewGuid():N}") }],
        "snowflake" =>
        [
            new JsonObject
            {
                ["account"] = "org-acct", ["user"] = "u", ["private_key"] = SnowflakeUnitTests.EncryptedKeyPem, ["private_key_passphrase"] = SnowflakeAccount.Passphrase,
                ["warehouse"] = "w", ["database"] = "d", ["schema"] = "s", ["base_url"] = "http://127.0.0.1:9",
            },
            new JsonObject
            {
                ["account"] = "org-acct", ["user"] = "u", ["token"] = "sf-Token-Marker-2", ["warehouse"] = "w", ["database"] = "d", ["schema"] = "s",
                ["base_url"] = "http://127.0.0.1:9",
            },
        ],
        _ => [],
    };

    [Fact]
    public async Task EveryDestinationType_KeepsItsSecretFieldsEncrypted_AndNeverReturnsOrLogsThem()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, Verbose);
        var logs = LogCapture.Attach(s.App);
        foreach (var type in DestinationTypes.All)
        {
            var examples = Examples(type.Name);
            Assert.True(examples.Count > 0, $"Destination type '{type.Name}' has no example config in this test; add one that sets its secret fields.");
            Assert.Equal(type.SecretKeys.Order(), examples.SelectMany(e => e.Select(p => p.Key)).Where(type.SecretKeys.Contains).Distinct().Order());
            foreach (var (config, i) in examples.Select((c, i) => (c, i)))
            {
                var secrets = type.SecretKeys.Where(config.ContainsKey)
                    .Select(k => (string)config[k]!).Select(v => v.Contains('\n') ? v.Split('\n')[2].Trim() : v).ToList();
                var settings = DestinationTypes.Parse(type.Name, config, new ValidationErrors());
                Assert.NotNull(settings);
                Assert.All(type.SecretKeys.Where(config.ContainsKey), k => Assert.Contains((string)config[k]!, settings.Secrets));

                var created = await s.Http.PostOkAsync("/api/v1/destinations", new { name = $"{type.Name}-{i}", type = type.Name, config });
                Assert.Equal(type.SecretKeys.Where(config.ContainsKey).Order(), created["secrets_set"]!.AsArray().Select(k => (string)k!).Order());
                var id = (int)created["id"]!;
                var (_, tested) = await s.Http.PostJsonAsync($"/api/v1/destinations/{id}/test");
                var responses = new[]
                {
                    created.ToJsonString(), tested.ToJsonString(), (await s.Http.GetOkAsync($"/api/v1/destinations/{id}")).ToJsonString(),
                    (await s.Http.GetOkAsync("/api/v1/destinations")).ToJsonString(),
                };
                var stored = await PostgresServer.ScalarAsync<string>(s.ConfigDb, $"SELECT d::text FROM destinations d WHERE id = {id}");
                foreach (var secret in secrets)
                {
                    Assert.All(responses, r => Assert.DoesNotContain(secret, r));
                    Assert.DoesNotContain(secret, stored);
                    Assert.DoesNotContain(secret, logs.Text);
                }
            }
        }
    }
}
