using System.Text.Json;
using Npgsql;

namespace BackfillStudio.Benchmarks;

/// <summary>
/// Listens on the config database as another node (and so the UI) does, and measures how long after a checkpoint's
/// <c>updated_at</c> its <c>backfill_job_changed</c> notification arrives: the delay before an open jobs table can show it.
/// </summary>
internal sealed class CheckpointWatch : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TimeSpan> _delays = [];
    private readonly Task _listening;

    private CheckpointWatch(NpgsqlConnection connection)
    {
        _connection = connection;
        _connection.Notification += (_, e) =>
        {
            using var payload = JsonDocument.Parse(e.Payload);
            var updatedAt = payload.RootElement.GetProperty("Change").GetProperty("UpdatedAt").GetDateTimeOffset();
            lock (_delays) _delays.Add(DateTimeOffset.UtcNow - updatedAt);
        };
        _listening = ListenAsync();
    }

    public static async Task<CheckpointWatch> StartAsync(string configConnectionString)
    {
        var connection = new NpgsqlConnection(configConnectionString);
        await connection.OpenAsync();
        await using (var listen = new NpgsqlCommand("LISTEN backfill_job_changed", connection))
            await listen.ExecuteNonQueryAsync();
        return new CheckpointWatch(connection);
    }

    private async Task ListenAsync()
    {
        try
        {
            while (true) await _connection.WaitAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Forgets the delays seen so far (a warm-up job's).</summary>
    public void Clear()
    {
        lock (_delays) _delays.Clear();
    }

    /// <summary>The median and the largest delay seen, or null before any notification.</summary>
    public (TimeSpan Median, TimeSpan Max)? Delays()
    {
        lock (_delays)
        {
            if (_delays.Count == 0) return null;
            var sorted = _delays.Order().ToList();
            return (sorted[sorted.Count / 2], sorted[^1]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _listening;
        await _connection.DisposeAsync();
        _stop.Dispose();
    }
}
