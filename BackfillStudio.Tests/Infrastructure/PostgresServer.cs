using System.Net;
using System.Net.Sockets;
using BackfillStudio.Web.Hosting;
using Npgsql;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>
/// One throwaway PostgreSQL cluster for the whole test run (Debian's binaries; initdb + pg_ctl),
/// in a temporary folder that is deleted at the end. Tests create their own databases in it.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private string _directory = "";
    private LocalPostgresCluster? _cluster;
    private int _databases;

    public LocalPostgresCluster Cluster => _cluster ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync()
    {
        _directory = Path.Combine(Path.GetTempPath(), $"backfill-tests-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_directory);
        if (Environment.UserName == "root")
            await ProcessRunner.RunAsync("chmod", ["755", _directory]);
        _cluster = await LocalPostgresCluster.StartAsync(Path.Combine(_directory, "pg"), FreePort(), throwaway: true);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.StopAsync();
        // BACKFILL_TESTS_KEEP=1 keeps the cluster folder (and its server.log) for a post-mortem.
        if (Environment.GetEnvironmentVariable("BACKFILL_TESTS_KEEP") == "1") return;
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Creates a fresh, uniquely named database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..6]}";
        await Cluster.CreateDatabaseIfMissingAsync(name);
        return Cluster.ConnectionString(name);
    }

    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection) { CommandTimeout = 300 };
        await cmd.ExecuteNonQueryAsync();
    }

    public static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
