using System.Net;
using System.Net.Sockets;
using BackfillStudio.Engine.Sources;
using Npgsql;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>
/// One PostgreSQL server for the whole test run: a Testcontainers container when a Docker engine is reachable, else a
/// throwaway local cluster from Debian's binaries (the path CI takes here). The first test class to ask starts it, it
/// stops when the test process exits; every test class is its own fixture of it (<c>IClassFixture</c>) and creates its
/// own databases, so classes run side by side.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static readonly Lazy<Task<IPostgresHost>> SharedHost = new(StartSharedAsync);
    private static int _databases;
    private IPostgresHost? _host;

    public async Task InitializeAsync() => _host = await SharedHost.Value;

    public Task DisposeAsync() => Task.CompletedTask;

    private static async Task<IPostgresHost> StartSharedAsync()
    {
        var host = await ContainerPostgresHost.TryStartAsync() ?? (IPostgresHost)await LocalPostgresHost.StartAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return host;
    }

    /// <summary>Creates a fresh, uniquely named database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var host = _host ?? throw new InvalidOperationException("Not started.");
        var name = $"{prefix}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..6]}";
        await host.CreateDatabaseAsync(name);
        return host.ConnectionString(name);
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

    /// <summary>A source's settings for the database of <paramref name="connectionString"/>, reached at <paramref name="port"/> when given (a proxy's).</summary>
    public static SourceSettings SourceSettings(string connectionString, int? port = null)
    {
        var direct = new NpgsqlConnectionStringBuilder(connectionString);
        return new SourceSettings(port is null ? direct.Host! : "127.0.0.1", port ?? direct.Port, direct.Database!, direct.Username!, direct.Password, "disable");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// Test classes that listen process-wide (metrics and traces are collected by meter and source name, so another class's
/// app in the same process would be counted too) run alone, after the classes that run side by side; so does the soak,
/// whose engine processes would otherwise starve the browser tests of the machine's two cores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "runs alone";
}
