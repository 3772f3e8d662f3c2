using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;

namespace BackfillStudio.Tests.Api;

public sealed class SetupApiTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a');";

    [Fact]
    public async Task Secrets_AreEncryptedAtRest_AndNeverReturned()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var password = new NpgsqlConnectionStringBuilder(s.SourceDb).Password!;

        var responses = string.Join("\n",
            (await s.Http.GetOkAsync("/api/v1/sources")).ToJsonString(),
            (await s.Http.GetOkAsync($"/api/v1/sources/{s.SourceId}")).ToJsonString(),
            (await s.Http.GetOkAsync("/api/v1/destinations")).ToJsonString(),
            (await s.Http.GetOkAsync($"/api/v1/destinations/{s.DestinationIds[0]}")).ToJsonString());
        Assert.DoesNotContain(password, responses);
        Assert.Contains("\"has_password\":true", responses);
        Assert.Contains("\"secrets_set\":[\"password\"]", responses);

        await using var config = new NpgsqlConnection(s.ConfigDb);
        await config.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT s::text FROM sources s UNION ALL SELECT d::text FROM destinations d", config);
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
        Assert.Equal(2, rows.Count);
        Assert.All(rows, row => Assert.DoesNotContain(password, row));
        Assert.Equal(1L, await PostgresServer.ScalarAsync<long>(s.ConfigDb, "SELECT count(*) FROM data_protection_keys"));

        // A secret kept in plain text under a key of another case, by a version that read keys in any case, is not shown.
        await PostgresServer.ExecuteAsync(s.ConfigDb, """UPDATE destinations SET config = config::jsonb || '{"Password": "hunter2"}'::jsonb""");
        Assert.DoesNotContain("hunter2", (await s.Http.GetOkAsync("/api/v1/destinations")).ToJsonString());
        Assert.DoesNotContain("hunter2", (await s.Http.GetOkAsync($"/api/v1/destinations/{s.DestinationIds[0]}")).ToJsonString());
    }

    [Fact]
    public async Task WrongPassword_ConnectionTestAndFailedJob_ReportTheReason_WithoutTheSecret()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres);
        const string wrong = "Wr0ng-Pa55word-that-must-not-leak";
        var source = new NpgsqlConnectionStringBuilder(s.SourceDb);
        var update = await s.Http.PutAsJsonAsync($"/api/v1/sources/{s.SourceId}", new
        {
            name = "source", host = source.Host, port = source.Port, database = source.Database, username = source.Username,
            password = wrong, ssl_mode = "disable",
        }, TestApp.Json);
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);

        var (_, test) = await s.Http.PostJsonAsync($"/api/v1/sources/{s.SourceId}/test");
        Assert.False((bool)test["success"]!);
        Assert.Contains("password authentication failed", (string)test["error"]!);
        Assert.DoesNotContain(wrong, test.ToJsonString());

        // The pipeline's table is known, so the job is accepted and fails in the engine.
        await using (var configDb = new NpgsqlConnection(s.ConfigDb))
        {
            await configDb.OpenAsync();
            await using var insert = new NpgsqlCommand(
                $"INSERT INTO queue_backfill_data (pipeline_id, source_id, table_name) VALUES ({s.PipelineId}, {s.SourceId}, 'public.items') RETURNING id", configDb);
            var jobId = (int)(await insert.ExecuteScalarAsync())!;
            var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(1), "FAILED", "COMPLETED");
            Assert.Equal("FAILED", (string)job["status"]!);
            Assert.True((bool)job["is_error"]!);
            Assert.Contains("password authentication failed", (string)job["error_message"]!);
            Assert.DoesNotContain(wrong, job.ToJsonString());
        }
    }

    [Fact]
    public async Task Updates_KeepOmittedSecrets_AndUnsavedSettingsCanBeTested()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var dest = new NpgsqlConnectionStringBuilder(s.DestinationDb);
        var destinationId = s.DestinationIds[0];
        object PgConfig(string? password) => new
        {
            host = dest.Host, port = dest.Port, database = dest.Database, username = dest.Username, password, schema = "copy2", ssl_mode = "disable",
        };

        var updated = await s.Http.PutAsJsonAsync($"/api/v1/destinations/{destinationId}",
            new { name = "pg-renamed", type = "postgres", config = PgConfig(null) }, TestApp.Json);
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        var view = await s.Http.GetOkAsync($"/api/v1/destinations/{destinationId}");
        Assert.Equal("pg-renamed", (string)view["name"]!);
        Assert.Equal("copy2", (string)view["config"]!["schema"]!);
        Assert.Equal("[\"password\"]", view["secrets_set"]!.ToJsonString());
        var (_, storedTest) = await s.Http.PostJsonAsync($"/api/v1/destinations/{destinationId}/test");
        Assert.True((bool)storedTest["success"]!, storedTest.ToJsonString());

        // Unsaved settings: a wrong password fails without being echoed; the stored one fills an omitted password.
        const string wrong = "Not-The-Destination-Password-99";
        var (_, wrongTest) = await s.Http.PostJsonAsync($"/api/v1/destinations/{destinationId}/test",
            new { name = "pg-renamed", type = "postgres", config = PgConfig(wrong) });
        Assert.False((bool)wrongTest["success"]!);
        Assert.Contains("password authentication failed", (string)wrongTest["error"]!);
        Assert.DoesNotContain(wrong, wrongTest.ToJsonString());
        var (_, keptTest) = await s.Http.PostJsonAsync($"/api/v1/destinations/{destinationId}/test",
            new { name = "pg-renamed", type = "postgres", config = PgConfig(null) });
        Assert.True((bool)keptTest["success"]!, keptTest.ToJsonString());

        var (_, newDuckDb) = await s.Http.PostJsonAsync("/api/v1/destinations/test",
            new { name = "new", type = "duckdb", config = new { path = Path.Combine(s.Folder, "probe.duckdb") } });
        Assert.True((bool)newDuckDb["success"]!, newDuckDb.ToJsonString());
        var (invalid, problem) = await s.Http.PostJsonAsync("/api/v1/destinations/test", new { name = "new", config = new { } });
        Assert.Equal(HttpStatusCode.BadRequest, invalid);
        Assert.NotNull(problem["errors"]!["type"]);

        var source = new NpgsqlConnectionStringBuilder(s.SourceDb);
        var sourceBody = new { name = "probe", host = source.Host, port = source.Port, database = source.Database, username = source.Username, ssl_mode = "disable" };
        var (_, unsavedSource) = await s.Http.PostJsonAsync("/api/v1/sources/test", sourceBody);
        Assert.False((bool)unsavedSource["success"]!, "A new source without its password cannot connect.");
        var (_, storedPassword) = await s.Http.PostJsonAsync($"/api/v1/sources/{s.SourceId}/test", sourceBody);
        Assert.True((bool)storedPassword["success"]!, storedPassword.ToJsonString());

        // Stored secrets never go to a server someone has just typed in: changing where they are sent needs them again.
        var (moved, movedProblem) = await s.Http.PostJsonAsync($"/api/v1/destinations/{destinationId}/test",
            new { name = "pg-renamed", type = "postgres", config = new { host = "203.0.113.9", port = dest.Port, database = dest.Database, username = dest.Username } });
        Assert.Equal(HttpStatusCode.BadRequest, moved);
        Assert.NotNull(movedProblem["errors"]!["config.password"]);
        var otherUser = new { name = "probe", host = source.Host, port = source.Port, database = source.Database, username = "someone_else", ssl_mode = "disable" };
        var (refused, refusedProblem) = await s.Http.PostJsonAsync($"/api/v1/sources/{s.SourceId}/test", otherUser);
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.NotNull(refusedProblem["errors"]!["password"]);
    }

    [Fact]
    public async Task RequestsRacingOverOneName_OrOneDeletion_AreAnsweredConflict_NeverAServerError()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        var statuses = new List<HttpStatusCode>();
        for (var round = 0; round < 10; round++)
        {
            // Each request finds the name free, then one of them commits first.
            var created = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => s.Http.PostJsonAsync("/api/v1/destinations",
                new { name = $"race-{round}", type = "parquet", config = new { path = Path.Combine(Path.GetTempPath(), $"race-{round}") } })));
            Assert.Single(created, c => c.Status == HttpStatusCode.Created);
            statuses.AddRange(created.Select(c => c.Status));
            var id = (int)created.Single(c => c.Status == HttpStatusCode.Created).Body["id"]!;
            // Each finds the destination, then one of them deletes it first.
            var deleted = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
            {
                using var response = await s.Http.DeleteAsync($"/api/v1/destinations/{id}");
                return response.StatusCode;
            }));
            Assert.Single(deleted, d => d == HttpStatusCode.NoContent);
            statuses.AddRange(deleted);
        }
        Assert.All(statuses, status => Assert.Contains(status, new[] { HttpStatusCode.Created, HttpStatusCode.NoContent, HttpStatusCode.BadRequest,
            HttpStatusCode.NotFound, HttpStatusCode.Conflict }));
    }

    [Fact]
    public async Task DestinationAndPipelineInput_IsValidated_FieldByField()
    {
        // A pipeline of "a.b".c, then a table a."b.c": "a.b.c" names both, and which one a lookup found first could change.
        await using var s = await Scenario.CreateAsync(pg, SourceSql + """CREATE SCHEMA "a.b"; CREATE TABLE "a.b".c (id int PRIMARY KEY);""",
            ["public.items"], DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        var dotted = await s.AddPipelineAsync("dotted", [s.DestinationIds[0]], "a.b.c");
        await PostgresServer.ExecuteAsync(s.SourceDb, """CREATE SCHEMA a; CREATE TABLE a."b.c" (id int PRIMARY KEY);""");
        // A pipeline's table dropped in the source since: the request is at fault (400), not the pipeline's address (404).
        await PostgresServer.ExecuteAsync(s.SourceDb, "CREATE TABLE gone (id int PRIMARY KEY)");
        var gone = await s.AddPipelineAsync("gone", [s.DestinationIds[0]], "public.gone");
        await PostgresServer.ExecuteAsync(s.SourceDb, "DROP TABLE gone");
        (string Path, object Body, string Field)[] cases =
        [
            ("/api/v1/destinations", new { name = "x", type = "oracle", config = new { } }, "type"),
            ("/api/v1/destinations", new { name = "x", type = "postgres", config = new { database = "d", username = "u" } }, "config.host"),
            ("/api/v1/destinations", new { name = "x", type = "postgres", config = new { host = "h", database = "d", username = "u", port = 70000 } }, "config.port"),
            ("/api/v1/destinations", new { name = "x", type = "duckdb", config = new { } }, "config.path"),
            ("/api/v1/destinations", new { name = "", type = "parquet", config = new { path = "/tmp/x" } }, "name"),
            ("/api/v1/destinations", new { name = "files", type = "parquet", config = new { path = "/tmp/x" } }, "name"),
            ("/api/v1/destinations", new { name = "snow", type = "snowflake", config = new { account = "a" } }, "config.warehouse"),
            ("/api/v1/destinations", new { name = "snow", type = "snowflake", config = new { account = "a", user = "u", warehouse = "w", database = "d", schema = "s" } }, "config.private_key"),
            ("/api/v1/destinations", new { name = "snow", type = "snowflake", config = new { account = "my acct", user = "u", warehouse = "w", database = "d", schema = "s", token = "t" } }, "config.account"),
            ("/api/v1/destinations", new { name = "snow", type = "snowflake", config = new { account = "a", user = "u", warehouse = "w", database = "d", schema = "s", token = "t",
                base_url = "https://me:secret@a.snowflakecomputing.com" } }, "config.base_url"),
            ("/api/v1/destinations", new { name = "snow", type = "snowflake", config = new { account = "a", user = "u", warehouse = "w", database = "d", schema = "s", token = "t",
                base_url = "https://a.snowflakecomputing.com/?token=secret" } }, "config.base_url"),
            ("/api/v1/destinations", new { name = "x", type = "postgres", config = new { host = "h\0", database = "d", username = "u" } }, "config.host"),
            // PostgreSQL would cut the name to 63 bytes.
            ("/api/v1/destinations", new { name = "x", type = "postgres", config = new { host = "h", database = "d", username = "u", schema = new string('s', 64) } }, "config.schema"),
            ("/api/v1/destinations", new { name = "x", type = "parquet", config = new { path = "/tmp/x", compression = "zstd" } }, "config.compression"),
            ("/api/v1/sources", new { name = "s2", host = "", database = "d", username = "u" }, "host"),
            ("/api/v1/sources", new { name = "s\0", host = "h", database = "d", username = "u" }, "name"),
            ("/api/v1/sources", new { name = "s2", host = "h", database = "d", username = "u", ssl_mode = "sometimes" }, "ssl_mode"),
            ("/api/v1/pipelines", new { name = "p2", source_id = 999, destination_ids = new[] { s.DestinationIds[0] }, tables = new[] { new { table_name = "public.items" } } }, "source_id"),
            ("/api/v1/pipelines", new { name = "p2", source_id = s.SourceId, destination_ids = Array.Empty<int>(), tables = new[] { new { table_name = "public.items" } } }, "destination_ids"),
            ("/api/v1/pipelines", new { name = "p2", source_id = s.SourceId, destination_ids = new[] { 999 }, tables = new[] { new { table_name = "public.items" } } }, "destination_ids"),
            ("/api/v1/pipelines", new { name = "p2", source_id = s.SourceId, destination_ids = new[] { s.DestinationIds[0] }, tables = new[] { new { table_name = "public.nope" } } }, "tables[0].table_name"),
            ("/api/v1/pipelines", new { name = "p2", source_id = s.SourceId, destination_ids = new[] { s.DestinationIds[0] }, tables = new[] { new { table_name = "items" } } }, "tables[0].table_name"),
            ("/api/v1/pipelines", new { name = "p2", source_id = s.SourceId, destination_ids = new[] { s.DestinationIds[0] }, tables = new[] { new { table_name = "a.b.c" } } }, "tables[0].table_name"),
            ("/api/v1/pipelines", new { name = "p2", source_id = s.SourceId, destination_ids = new[] { s.DestinationIds[0] },
                tables = new[] { new { table_name = "public.items", target_table_name = "it\0ems" } } }, "tables[0].target_table_name"),
            // 36 characters, 67 bytes: PostgreSQL would keep 63, which two such names could share.
            ("/api/v1/pipelines", new { name = "p2", source_id = s.SourceId, destination_ids = new[] { s.DestinationIds[0] },
                tables = new[] { new { table_name = "public.items", target_table_name = new string('ä', 31) + "_2024" } } }, "tables[0].target_table_name"),
            ("/api/v1/notifications", new { name = "n\0", url = "https://example.com/hook", secret = "0123456789abcdef", events = new[] { "FAILED" } }, "name"),
            ($"/api/v1/pipelines/{dotted}/backfill/preview", new { table_name = "a.b.c" }, "table_name"),
            ($"/api/v1/pipelines/{gone}/backfill/preview", new { table_name = "public.gone" }, "table_name"),
            ($"/api/v1/pipelines/{gone}/backfill", new { table_name = "public.gone" }, "table_name"),
        ];
        foreach (var (path, body, field) in cases)
        {
            var (status, problem) = await s.Http.PostJsonAsync(path, body);
            Assert.True(status == HttpStatusCode.BadRequest && problem["errors"]?.AsObject().ContainsKey(field) == true,
                $"POST {path} {JsonSerializerFor(body)}: expected 400 naming {field}, got {(int)status} {problem.ToJsonString()}");
        }

        // A lone UTF-16 surrogate (escaped, as JSON allows) has no UTF-8 form for the config database or the source.
        foreach (var (path, json, field) in new (string, string, string)[]
                 {
                     ("/api/v1/sources", """{"name": "s\ud800", "host": "h", "database": "d", "username": "u"}""", "name"),
                     ("/api/v1/destinations", """{"name": "x", "type": "postgres", "config": {"host": "h\udc00", "database": "d", "username": "u"}}""", "config.host"),
                     // Read in any case, a "Password" was kept as a public setting, in plain text, and shown to every reader.
                     ("/api/v1/destinations", """{"name": "x", "type": "postgres", "config": {"host": "h", "database": "d", "username": "u", "Password": "hunter2"}}""", "config.Password"),
                     ($"/api/v1/pipelines/{s.PipelineId}/backfill",
                         """{"table_name": "public.items", "filters": [{"column": "name", "operator": "=", "value": "a\ud800"}]}""", "filters[0].value"),
                     ($"/api/v1/pipelines/{s.PipelineId}/backfill/preview", """{"table_name": "public.items\ud800"}""", "table_name"),
                 })
        {
            var (status, problem) = await SendRawAsync(s.Http, path, json);
            Assert.True(status == HttpStatusCode.BadRequest && problem["errors"]?.AsObject().ContainsKey(field) == true,
                $"POST {path} {json}: expected 400 naming {field}, got {(int)status} {problem.ToJsonString()}");
        }

        var (malformed, problemJson) = await SendRawAsync(s.Http, "/api/v1/destinations", "{\"name\": ");
        Assert.Equal(HttpStatusCode.BadRequest, malformed);
        Assert.Equal(400, (int)problemJson["status"]!);
        // A value of the wrong kind is named by its field, in every environment.
        foreach (var (path, body, field) in new (string, object, string)[]
                 {
                     ("/api/v1/sources", new { name = "s3", host = "h", database = "d", username = "u", port = "abc" }, "port"),
                     ($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.items", max_rows_per_second = 3e9 }, "max_rows_per_second"),
                 })
        {
            var (status, problem) = await s.Http.PostJsonAsync(path, body);
            Assert.True(status == HttpStatusCode.BadRequest && problem["errors"]?.AsObject().ContainsKey(field) == true,
                $"POST {path}: expected 400 naming {field}, got {(int)status} {problem.ToJsonString()}");
        }
    }

    [Fact]
    public async Task Catalog_ListsTablesWithEstimatesAndKeys_AndColumnsWithTypes()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql + "ANALYZE items;", ["public.items"], DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");

        var tables = (await s.Http.GetOkAsync($"/api/v1/sources/{s.SourceId}/tables")).AsArray();
        var items = Assert.Single(tables, t => (string)t!["table_name"]! == "public.items")!;
        Assert.Equal(1, (long)items["estimated_rows"]!);
        Assert.Equal(["id"], items["primary_key"]!.AsArray().Select(k => (string)k!));

        var columns = (await s.Http.GetOkAsync($"/api/v1/sources/{s.SourceId}/tables/public.items/columns")).AsArray();
        Assert.Equal("""[{"name":"id","data_type":"integer","nullable":false,"is_primary_key":true},{"name":"name","data_type":"text","nullable":true,"is_primary_key":false}]""",
            columns.ToJsonString());
        var (_, test) = await s.Http.PostJsonAsync($"/api/v1/sources/{s.SourceId}/test");
        Assert.True((bool)test["success"]!);
        Assert.StartsWith("PostgreSQL", (string)test["server_version"]!);
    }

    [Theory]
    [InlineData("postgresql://app:s%40cret@db.example:6543/backfill?sslmode=require", "db.example", 6543, "backfill", "app", "s@cret")]
    [InlineData("postgres://u@localhost/cfg", "localhost", 5432, "cfg", "u", null)]
    public void ConfigDatabaseUrl_IsTranslatedToAConnectionString(string url, string host, int port, string database, string user, string? password)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConfigDatabase.NormalizeConnectionString(url));
        Assert.Equal((host, port, database, user, password), (builder.Host, builder.Port, builder.Database, builder.Username, builder.Password));
    }

    private static string JsonSerializerFor(object body) => System.Text.Json.JsonSerializer.Serialize(body, TestApp.Json);

    private static async Task<(HttpStatusCode, JsonObject)> SendRawAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }
}
