using BackfillStudio.Engine.Persistence;

namespace BackfillStudio.Web.Hosting;

/// <summary>
/// Decides where the config database is: <c>ConnectionStrings:Config</c>, else <c>CONFIG_DATABASE_URL</c>,
/// else the embedded default — a local PostgreSQL cluster under <c>Embedded:DataDirectory</c> with a
/// demo source and pipeline.
/// </summary>
public sealed class EmbeddedDefault
{
    public const string ConfigDatabase = "backfill_config";
    public const string DemoDatabase = "backfill_demo";

    public LocalPostgresCluster? Cluster { get; private init; }
    public required string ConfigConnectionString { get; init; }
    public string DataDirectory { get; private init; } = "";

    public static async Task<EmbeddedDefault> ResolveAsync(IConfiguration configuration, ILogger logger)
    {
        var configured = configuration.GetConnectionString("Config");
        if (string.IsNullOrWhiteSpace(configured)) configured = configuration["CONFIG_DATABASE_URL"];
        if (!string.IsNullOrWhiteSpace(configured))
            return new EmbeddedDefault { ConfigConnectionString = Engine.Persistence.ConfigDatabase.NormalizeConnectionString(configured) };

        var dataDirectory = Path.GetFullPath(configuration["Embedded:DataDirectory"] ?? ".data");
        var port = configuration.GetValue("Embedded:Port", 55432);
        logger.LogInformation("No config database configured: starting the embedded PostgreSQL cluster in {DataDirectory} on port {Port}", dataDirectory, port);
        var cluster = await LocalPostgresCluster.StartAsync(Path.Combine(dataDirectory, "postgres"), port);
        await cluster.CreateDatabaseIfMissingAsync(ConfigDatabase);
        return new EmbeddedDefault
        {
            Cluster = cluster,
            DataDirectory = dataDirectory,
            ConfigConnectionString = cluster.ConnectionString(ConfigDatabase),
        };
    }
}
