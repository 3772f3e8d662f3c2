using Npgsql;

namespace BackfillStudio.Engine.Persistence;

/// <summary>The config database's connection pool for the engine's hand-written SQL (claims, transitions, NOTIFY).</summary>
public sealed class ConfigDataSource(string connectionString) : IAsyncDisposable
{
    public NpgsqlDataSource DataSource { get; } = NpgsqlDataSource.Create(connectionString);

    /// <summary>
    /// Drops the idle connections of both pools of the config database: this one, and the one EF Core's contexts open by
    /// connection string. Once the LISTEN connection is lost (the database restarted, or the network dropped), the idle
    /// ones are most likely gone too, and each would fail its next use once: a page reloading after the outage would
    /// meet one dead connection after another, two seconds apart.
    /// </summary>
    public void ClearPools()
    {
        DataSource.Clear();
        using var connection = new NpgsqlConnection(connectionString);
        NpgsqlConnection.ClearPool(connection);
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
