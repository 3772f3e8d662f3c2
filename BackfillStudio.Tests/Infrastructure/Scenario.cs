using System.Text.Json.Nodes;
using BackfillStudio.Web.Hosting;
using Npgsql;

namespace BackfillStudio.Tests.Infrastructure;

[Flags]
public enum DestinationKinds
{
    Postgres = 1,
    DuckDb = 2,
    Parquet = 4,
    All = Postgres | DuckDb | Parquet,
}

/// <summary>
/// A complete setup made through the REST API: a fresh config database, a source database filled by
/// <c>sourceSql</c>, the requested destinations (a PostgreSQL database, a DuckDB file, a Parquet
/// folder) and one pipeline over <c>tables</c>.
/// </summary>
public sealed class Scenario : IAsyncDisposable
{
    public required TestApp App { get; init; }
    public required string ConfigDb { get; init; }
    public required string SourceDb { get; init; }
    public required string DestinationDb { get; init; }
    public required string Folder { get; init; }
    public required int SourceId { get; init; }
    public required int PipelineId { get; init; }
    public required IReadOnlyList<int> DestinationIds { get; init; }

    public string DuckDbPath => Path.Combine(Folder, "dest.duckdb");
    public string ParquetDirectory => Path.Combine(Folder, "parquet");
    public HttpClient Http => App.Http;

    public static Task<Scenario> CreateAsync(PostgresServer pg, string sourceSql, string[] tables,
        DestinationKinds kinds = DestinationKinds.All, params string[] settings) =>
        CreateAsync(pg, sourceSql, tables, kinds, null, settings);

    /// <summary>A scenario whose only destination is a Snowflake account with this config.</summary>
    public static Task<Scenario> CreateAsync(PostgresServer pg, string sourceSql, string[] tables, JsonObject snowflakeConfig,
        params string[] settings) =>
        CreateAsync(pg, sourceSql, tables, 0, snowflakeConfig, settings);

    private static async Task<Scenario> CreateAsync(PostgresServer pg, string sourceSql, string[] tables,
        DestinationKinds kinds, JsonObject? snowflakeConfig, string[] settings)
    {
        var configDb = await pg.CreateDatabaseAsync("config");
        var sourceDb = await pg.CreateDatabaseAsync("source");
        var destinationDb = await pg.CreateDatabaseAsync("dest");
        await PostgresServer.ExecuteAsync(sourceDb, sourceSql);
        var folder = Path.Combine(Path.GetTempPath(), $"backfill-scenario-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);

        var app = await TestApp.StartAsync(configDb, settings);
        var source = new NpgsqlConnectionStringBuilder(sourceDb);
        var sourceJson = await app.Http.PostOkAsync("/api/v1/sources", new
        {
            name = "source", host = source.Host, port = source.Port, database = source.Database,
            username = source.Username, password = source.Password, ssl_mode = "disable",
        });
        var destinationIds = new List<int>();
        if (kinds.HasFlag(DestinationKinds.Postgres))
            destinationIds.Add(await CreateDestinationAsync(app, "pg", "postgres", PostgresConfig(destinationDb)));
        if (kinds.HasFlag(DestinationKinds.DuckDb))
            destinationIds.Add(await CreateDestinationAsync(app, "duck", "duckdb", new JsonObject { ["path"] = Path.Combine(folder, "dest.duckdb") }));
        if (kinds.HasFlag(DestinationKinds.Parquet))
            destinationIds.Add(await CreateDestinationAsync(app, "files", "parquet", new JsonObject { ["path"] = Path.Combine(folder, "parquet") }));
        if (snowflakeConfig is not null)
            destinationIds.Add(await CreateDestinationAsync(app, "snow", "snowflake", snowflakeConfig));

        var pipeline = await app.Http.PostOkAsync("/api/v1/pipelines", new
        {
            name = "pipeline",
            source_id = (int)sourceJson["id"]!,
            destination_ids = destinationIds,
            tables = tables.Select(t => new { table_name = t }).ToArray(),
        });
        return new Scenario
        {
            App = app, ConfigDb = configDb, SourceDb = sourceDb, DestinationDb = destinationDb, Folder = folder,
            SourceId = (int)sourceJson["id"]!, PipelineId = (int)pipeline["id"]!, DestinationIds = destinationIds,
        };
    }

    private static async Task<int> CreateDestinationAsync(TestApp app, string name, string type, JsonObject config)
    {
        var created = await app.Http.PostOkAsync("/api/v1/destinations", new { name, type, config });
        return (int)created["id"]!;
    }

    private static JsonObject PostgresConfig(string connectionString)
    {
        var database = new NpgsqlConnectionStringBuilder(connectionString);
        return new JsonObject
        {
            ["host"] = database.Host, ["port"] = database.Port, ["database"] = database.Database, ["username"] = database.Username,
            ["password"] = database.Password, ["schema"] = "copy", ["ssl_mode"] = "disable",
        };
    }

    /// <summary>Adds a PostgreSQL destination writing into schema <c>copy</c> of the database of <paramref name="connectionString"/>; returns its id.</summary>
    public Task<int> AddPostgresDestinationAsync(string name, string connectionString) =>
        CreateDestinationAsync(App, name, "postgres", PostgresConfig(connectionString));

    /// <summary>Adds a pipeline from the scenario's source into <paramref name="destinationIds"/> over one table; returns its id.</summary>
    public async Task<int> AddPipelineAsync(string name, IEnumerable<int> destinationIds, string table)
    {
        var pipeline = await Http.PostOkAsync("/api/v1/pipelines", new
        {
            name, source_id = SourceId, destination_ids = destinationIds, tables = new[] { new { table_name = table } },
        });
        return (int)pipeline["id"]!;
    }

    /// <summary>Creates a backfill job and returns its id.</summary>
    public async Task<int> StartBackfillAsync(string table, params object[] filters)
    {
        var job = await Http.PostOkAsync($"/api/v1/pipelines/{PipelineId}/backfill", new { table_name = table, filters });
        return (int)job["id"]!;
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Asserts that the PostgreSQL destination (schema <c>copy</c>), the DuckDB file and the job's Parquet files (those of
    /// <paramref name="kinds"/>) each hold exactly <paramref name="expected"/> (<see cref="TableContents"/> rows of <paramref name="table"/>).
    /// </summary>
    public async Task AssertDestinationsHoldAsync(List<string> expected, string table, int jobId, DestinationKinds kinds = DestinationKinds.All)
    {
        if (kinds.HasFlag(DestinationKinds.Postgres))
            Assert.Equal(expected, await TableContents.FromPostgresAsync(DestinationDb, "copy", table));
        if (kinds.HasFlag(DestinationKinds.DuckDb))
            Assert.Equal(expected, await TableContents.FromDuckDbAsync(SourceDb, "public", table, DuckDbPath, $"main.{table}"));
        if (kinds.HasFlag(DestinationKinds.Parquet))
            Assert.Equal(expected, await TableContents.FromDuckDbAsync(SourceDb, "public", table, null,
                $"read_parquet('{ParquetDirectory}/{table}/{jobId}/*.parquet')"));
    }

    public static object Filter(string column, string op, object? value = null) => new { column, @operator = op, value };

    /// <summary>Starts a second application on the same config database (another engine, or a web-only node).</summary>
    public Task<TestApp> StartPeerAsync(params string[] settings) => TestApp.StartAsync(ConfigDb, settings);
}
