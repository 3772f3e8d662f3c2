using Npgsql;

namespace BackfillStudio.Engine.Persistence;

/// <summary>The config database's connection pool for the engine's hand-written SQL (claims, transitions, NOTIFY).</summary>
public sealed class ConfigDataSource(string connectionString) : IAsyncDisposable
{
    public NpgsqlDataSource DataSource { get; } = NpgsqlDataSource.Create(connectionString);

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
