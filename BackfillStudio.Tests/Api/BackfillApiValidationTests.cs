using System.Net;
using System.Net.Http.Json;
using BackfillStudio.Tests.Infrastructure;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Api;

public sealed class BackfillApiValidationTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
        CREATE TABLE orders (
            id bigint PRIMARY KEY, customer text, amount numeric(10,2), qty int, small smallint, ratio double precision,
            created_at timestamptz, created_on date, local_ts timestamp, at_time time, active boolean, ref uuid,
            payload jsonb, photo bytea, tags text[], nick text COLLATE ci);
        INSERT INTO orders (id, customer, amount) SELECT g, 'c' || g, g FROM generate_series(1, 20) g;
        CREATE TABLE other (id int PRIMARY KEY);
        """;

    private static readonly (string Name, object Body, string Field)[] InvalidRequests =
    [
        ("missing table", new { filters = Array.Empty<object>() }, "table_name"),
        ("table not in pipeline", new { table_name = "public.other" }, "table_name"),
        ("table injection", new { table_name = "public.orders; DROP TABLE public.other; --" }, "table_name"),
        ("six filters", new { table_name = "public.orders", filters = Enumerable.Repeat(Filter("id", ">", 1), 6).ToArray() }, "filters"),
        ("unknown column", new { table_name = "public.orders", filters = new[] { Filter("nope", "=", 1) } }, "filters[0].column"),
        ("column injection", new { table_name = "public.orders", filters = new[] { Filter("id\"; DROP TABLE other; --", "=", 1) } }, "filters[0].column"),
        ("missing column", new { table_name = "public.orders", filters = new[] { Filter("", "=", 1) } }, "filters[0].column"),
        ("unknown operator", new { table_name = "public.orders", filters = new[] { Filter("id", "<>", 1) } }, "filters[0].operator"),
        ("operator injection", new { table_name = "public.orders", filters = new[] { Filter("id", "= 1 OR 1=1 --", 1) } }, "filters[0].operator"),
        ("missing operator", new { table_name = "public.orders", filters = new[] { Filter("id", "", 1) } }, "filters[0].operator"),
        ("missing value", new { table_name = "public.orders", filters = new[] { Filter("id", ">=") } }, "filters[0].value"),
        ("LIKE on numeric", new { table_name = "public.orders", filters = new[] { Filter("amount", "LIKE", "1%") } }, "filters[0].operator"),
        ("ILIKE on timestamp", new { table_name = "public.orders", filters = new[] { Filter("created_at", "ILIKE", "2024%") } }, "filters[0].operator"),
        // PostgreSQL refuses to match a pattern under a nondeterministic collation: the job failed, the preview answered 500.
        ("ILIKE under a nondeterministic collation", new { table_name = "public.orders", filters = new[] { Filter("nick", "ILIKE", "a%") } }, "filters[0].operator"),
        ("value filter on jsonb", new { table_name = "public.orders", filters = new[] { Filter("payload", "=", "{}") } }, "filters[0].operator"),
        ("value filter on array", new { table_name = "public.orders", filters = new[] { Filter("tags", "=", "{a}") } }, "filters[0].operator"),
        ("bigint not a number", new { table_name = "public.orders", filters = new[] { Filter("id", ">", "1; DROP TABLE other") } }, "filters[0].value"),
        ("int out of range", new { table_name = "public.orders", filters = new[] { Filter("qty", "=", 3000000000) } }, "filters[0].value"),
        ("smallint out of range", new { table_name = "public.orders", filters = new[] { Filter("small", "=", 40000) } }, "filters[0].value"),
        ("integer with fraction", new { table_name = "public.orders", filters = new[] { Filter("qty", "=", 1.5) } }, "filters[0].value"),
        ("numeric not a number", new { table_name = "public.orders", filters = new[] { Filter("amount", ">", "ten") } }, "filters[0].value"),
        ("double out of range (the server casts)", new { table_name = "public.orders", filters = new[] { Filter("ratio", ">", "1e400") } }, "filters[0].value"),
        ("bad boolean", new { table_name = "public.orders", filters = new[] { Filter("active", "=", "maybe") } }, "filters[0].value"),
        ("bad date", new { table_name = "public.orders", filters = new[] { Filter("created_on", ">=", "2024-02-30") } }, "filters[0].value"),
        ("bad timestamp", new { table_name = "public.orders", filters = new[] { Filter("local_ts", ">=", "yesterday") } }, "filters[0].value"),
        ("timestamp with zone on timestamp", new { table_name = "public.orders", filters = new[] { Filter("local_ts", ">=", "2024-01-01T00:00:00Z") } }, "filters[0].value"),
        ("bad timestamptz", new { table_name = "public.orders", filters = new[] { Filter("created_at", "<", "2024-13-01") } }, "filters[0].value"),
        ("bad time", new { table_name = "public.orders", filters = new[] { Filter("at_time", "<", "25:00") } }, "filters[0].value"),
        ("bad uuid", new { table_name = "public.orders", filters = new[] { Filter("ref", "=", "not-a-uuid") } }, "filters[0].value"),
        ("LIKE pattern ending in its escape", new { table_name = "public.orders", filters = new[] { Filter("customer", "LIKE", "abc\\") } }, "filters[0].value"),
        ("ILIKE pattern with NUL", new { table_name = "public.orders", filters = new[] { Filter("customer", "ILIKE", "a\0b%") } }, "filters[0].value"),
        ("array as value", new { table_name = "public.orders", filters = new[] { Filter("customer", "=", new[] { "a", "b" }) } }, "filters[0].value"),
        ("object as value", new { table_name = "public.orders", filters = new[] { Filter("id", "=", new { n = 1 }) } }, "filters[0].value"),
        ("no chunks", new { table_name = "public.orders", parallel_chunks = 0 }, "parallel_chunks"),
        ("too many chunks", new { table_name = "public.orders", parallel_chunks = 65 }, "parallel_chunks"),
        ("second filter invalid", new { table_name = "public.orders", filters = new[] { Filter("id", ">", 1), Filter("amount", "<=", "x") } }, "filters[1].value"),
        // Enum.TryParse reads a comma list as the OR of its members' values.
        ("two verify modes", new { table_name = "public.orders", verify = "count,checksum" }, "verify"),
    ];

    [Fact]
    public async Task CreateBackfill_InvalidInput_Returns400ProblemNamingTheField_AndStoresNothing()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        var failures = new List<string>();
        foreach (var (name, body, field) in InvalidRequests)
        {
            var (status, problem) = await s.Http.PostJsonAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", body);
            var errors = problem["errors"]?.AsObject();
            if (status != HttpStatusCode.BadRequest || errors is null || !errors.ContainsKey(field) || (int?)problem["status"] != 400)
                failures.Add($"{name}: expected 400 naming '{field}', got {(int)status} {problem.ToJsonString()}");
        }
        Assert.Empty(failures);

        var jobs = await s.Http.GetOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill");
        Assert.Equal(0, (int)jobs["total"]!);
        Assert.Equal(1L, await PostgresServer.ScalarAsync<long>(s.SourceDb, "SELECT count(*) FROM pg_tables WHERE tablename = 'other'"));
    }

    [Fact]
    public async Task CreateBackfill_ValidValuesOfEveryType_AreAccepted()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        object[][] valid =
        [
            [Filter("id", ">=", 5), Filter("amount", "<", "10.50"), Filter("qty", "!=", -3), Filter("small", "<=", 12), Filter("ratio", ">", 0.25)],
            [Filter("created_at", ">=", "2024-01-01T00:00:00+02:00"), Filter("created_on", "=", "2024-02-29"), Filter("local_ts", "<", "2024-01-01 10:30:00")],
            [Filter("active", "=", true), Filter("ref", "=", "7f9c2e4a-0b1d-4c3e-9a8b-123456789abc"), Filter("at_time", ">", "08:30")],
            [Filter("customer", "ILIKE", "C1%"), Filter("payload", "IS NULL"), Filter("tags", "IS NOT NULL"), Filter("customer", "LIKE", "%\\\\")],
            // Values PostgreSQL reads that .NET's date types cannot hold.
            [Filter("created_on", ">", "0044-03-15 BC"), Filter("at_time", "<=", "24:00"), Filter("local_ts", "<", "infinity"),
             Filter("created_at", "<", "12000-01-01 00:00:00+00"), Filter("amount", "!=", "NaN")],
        ];
        foreach (var filters in valid)
        {
            var (status, body) = await s.Http.PostJsonAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.orders", filters });
            Assert.True(status == HttpStatusCode.Created, body.ToJsonString());
            Assert.Equal("PENDING", (string)body["status"]!);
        }
    }

    [Fact]
    public async Task Preview_CountsTheMatchingRows_AndValidatesLikeCreate()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");

        var preview = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill/preview",
            new { table_name = "public.orders", filters = new[] { Filter("id", ">", 5), Filter("customer", "LIKE", "c1%") } });
        var (status, problem) = await s.Http.PostJsonAsync($"/api/v1/pipelines/{s.PipelineId}/backfill/preview",
            new { table_name = "public.orders", filters = new[] { Filter("id", ">", "x") } });

        Assert.Equal(await PostgresServer.ScalarAsync<long>(s.SourceDb, "SELECT count(*) FROM orders WHERE id > 5 AND customer LIKE 'c1%'"),
            (long)preview["matching_rows"]!);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem["errors"]!.AsObject().ContainsKey("filters[0].value"));
        Assert.Equal(0, (int)(await s.Http.GetOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill"))["total"]!);
    }

    [Fact]
    public async Task ValueInjection_IsJustAString_ThatMatchesNothing()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Postgres);

        var jobId = await s.StartBackfillAsync("public.orders", Filter("customer", "=", "'; DROP TABLE orders; --"));
        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(1), "COMPLETED", "FAILED");

        Assert.Equal("COMPLETED", (string)job["status"]!);
        Assert.Equal(0, (long)job["count_record"]!);
        Assert.Equal("customer = '''; DROP TABLE orders; --'", (string)job["filter_sql"]!);
        Assert.Equal(20L, await PostgresServer.ScalarAsync<long>(s.SourceDb, "SELECT count(*) FROM orders"));
    }

    [Fact]
    public async Task UnknownIds_Return404Problems()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        (string Method, string Path)[] requests =
        [
            ("POST", "/api/v1/pipelines/999/backfill"), ("GET", "/api/v1/pipelines/999/backfill"), ("GET", "/api/v1/backfill/999"),
            ("POST", "/api/v1/backfill/999/cancel"), ("DELETE", "/api/v1/backfill/999"), ("GET", "/api/v1/sources/999"),
            ("GET", "/api/v1/destinations/999"), ("GET", "/api/v1/pipelines/999"), ("GET", $"/api/v1/sources/{s.SourceId}/tables/public.nope/columns"),
        ];
        foreach (var (method, path) in requests)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method == "POST") request.Content = JsonContent.Create(new { table_name = "public.orders" });
            using var response = await s.Http.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {path} → {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task JobList_PagesNewestFirst_AndValidatesPaging()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        var ids = new List<int>();
        for (var i = 0; i < 3; i++) ids.Add(await s.StartBackfillAsync("public.orders"));

        var page = await s.Http.GetOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill?skip=1&limit=1");
        Assert.Equal(3, (int)page["total"]!);
        Assert.Equal(ids[1], (int)page["items"]![0]!["id"]!);
        var all = await s.Http.GetOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill");
        Assert.Equal(ids.AsEnumerable().Reverse(), all["items"]!.AsArray().Select(j => (int)j!["id"]!));

        // A status is a name: Enum.TryParse took "EXECUTING,FAILED" as the OR of their values, and listed the FAILED jobs.
        foreach (var path in new[] { $"/api/v1/pipelines/{s.PipelineId}/backfill?skip=-1", $"/api/v1/pipelines/{s.PipelineId}/backfill?limit=0",
                     $"/api/v1/pipelines/{s.PipelineId}/backfill?limit=100000", "/api/v1/backfill?status=EXECUTING,FAILED", "/api/v1/backfill?status=1",
                     // Values of the wrong kind are named by their parameter too.
                     "/api/v1/backfill?limit=abc", "/api/v1/backfill?include_deleted=maybe", "/api/v1/backfill?pipeline_id=x" })
        {
            var query = path.Split('?')[1];
            var (status, problem) = await s.Http.GetJsonAsync(path);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.True(problem["errors"]!.AsObject().ContainsKey(query.Split('=')[0]), problem.ToJsonString());
        }
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheBackfillEndpoints()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.orders"], DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        var document = await s.Http.GetOkAsync("/openapi/v1.json");
        var paths = document["paths"]!.AsObject();
        Assert.Contains("/api/v1/pipelines/{pipelineId}/backfill", paths.Select(p => p.Key));
        Assert.Contains("/api/v1/backfill/{jobId}/cancel", paths.Select(p => p.Key));
        Assert.Contains("/api/v1/sources/{id}/tables/{tableName}/columns", paths.Select(p => p.Key));
    }
}
