using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>
/// One PostgreSQL server for the whole test run: a Testcontainers container when a Docker engine is reachable, else a
/// throwaway local cluster from Debian's binaries (the path CI takes here). Tests create their own databases in it.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private IPostgresHost? _host;
    private int _databases;

    public async Task InitializeAsync() => _host = await ContainerPostgresHost.TryStartAsync() ?? (IPostgresHost)await LocalPostgresHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync();
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
