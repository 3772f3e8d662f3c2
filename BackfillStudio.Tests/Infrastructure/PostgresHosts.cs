using BackfillStudio.Web.Hosting;
using Npgsql;
using Testcontainers.PostgreSql;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>Where the test run's PostgreSQL server lives: a container when a Docker engine answers, else a local cluster.</summary>
internal interface IPostgresHost : IAsyncDisposable
{
    Task CreateDatabaseAsync(string name);

    string ConnectionString(string database);
}

/// <summary>A throwaway cluster from Debian's binaries (initdb + pg_ctl) in a temporary folder, deleted at the end.</summary>
internal sealed class LocalPostgresHost(LocalPostgresCluster cluster, string directory) : IPostgresHost
{
    public static async Task<LocalPostgresHost> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"backfill-tests-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        if (Environment.UserName == "root")
            await ProcessRunner.RunAsync("chmod", ["755", directory]);
        return new LocalPostgresHost(await LocalPostgresCluster.StartAsync(Path.Combine(directory, "pg"), PostgresServer.FreePort(), throwaway: true), directory);
    }

    public Task CreateDatabaseAsync(string name) => cluster.CreateDatabaseIfMissingAsync(name);

    public string ConnectionString(string database) => cluster.ConnectionString(database);

    public async ValueTask DisposeAsync()
    {
        await cluster.StopAsync();
        // BACKFILL_TESTS_KEEP=1 keeps the cluster folder (and its server.log) for a post-mortem.
        if (Environment.GetEnvironmentVariable("BACKFILL_TESTS_KEEP") == "1") return;
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>A PostgreSQL container (Testcontainers), the path taken when a Docker engine is reachable.</summary>
internal sealed class ContainerPostgresHost(PostgreSqlContainer container) : IPostgresHost
{
    /// <summary>The container, or null when no Docker engine answers (then the local cluster is used).</summary>
    public static async Task<ContainerPostgresHost?> TryStartAsync()
    {
        if (Environment.GetEnvironmentVariable("DOCKER_HOST") is null && !File.Exists("/var/run/docker.sock")) return null;
        var container = new PostgreSqlBuilder("postgres:15")
            .WithCommand("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300")
            .Build();
        try
        {
            await container.StartAsync();
            return new ContainerPostgresHost(container);
        }
        catch (Exception e)
        {
            Console.WriteLine($"No PostgreSQL container ({e.GetType().Name}: {e.Message}); using a local cluster.");
            await container.DisposeAsync();
            return null;
        }
    }

    public async Task CreateDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(container.GetConnectionString());
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await cmd.ExecuteNonQueryAsync();
    }

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder(container.GetConnectionString()) { Database = database }.ConnectionString;

    public ValueTask DisposeAsync() => container.DisposeAsync();
}
