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
    private const string Prefix = "backfill-tests-";
    private const string OwnerFile = "owner.pid";

    public static async Task<LocalPostgresHost> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("BACKFILL_TESTS_KEEP") != "1") SweepLeftovers();
        var directory = Path.Combine(Path.GetTempPath(), $"{Prefix}{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Environment.UserName == "root")
            await ProcessRunner.RunAsync("chmod", ["755", directory]);
        return new LocalPostgresHost(await LocalPostgresCluster.StartAsync(Path.Combine(directory, "pg"), PostgresServer.FreePort(), throwaway: true), directory);
    }

    /// <summary>
    /// The cluster is stopped when the test process exits, which a test host that is killed or cut short never
    /// reaches: the clusters of test processes that are gone are stopped and deleted when the next run starts.
    /// </summary>
    private static void SweepLeftovers()
    {
        foreach (var leftover in Directory.GetDirectories(Path.GetTempPath(), Prefix + "*"))
        {
            if (int.TryParse(Read(Path.Combine(leftover, OwnerFile)), out var owner) && IsRunning(owner)) continue;
            if (int.TryParse(Read(Path.Combine(leftover, "pg", "postmaster.pid")), out var postmaster) && IsRunning(postmaster))
                System.Diagnostics.Process.GetProcessById(postmaster).Kill();
            try
            {
                Directory.Delete(leftover, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>The file's first line, or null.</summary>
    private static string? Read(string path) => File.Exists(path) ? File.ReadLines(path).FirstOrDefault() : null;

    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
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
