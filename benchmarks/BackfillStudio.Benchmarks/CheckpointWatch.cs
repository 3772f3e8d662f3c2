using System.Text.Json;
using Npgsql;

namespace BackfillStudio.Benchmarks;

/// <summary>
/// Listens on the config database as another node (and so the UI) does, and measures how long after a checkpoint's
/// <c>updated_at</c> its <c>backfill_job_changed</c> notification arrives: the delay before an open jobs table can show it.
/// It also tells when a job may have ended (<see cref="ChangedAsync"/>), so the benchmark does not poll the API during a
/// timed job: its requests would take CPU from the run they measure.
/// </summary>
internal sealed class CheckpointWatch : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TimeSpan> _delays = [];
    private readonly Task _listening;
    private TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CheckpointWatch(NpgsqlConnection connection)
    {
        _connection = connection;
        _connection.Notification += (_, e) =>
        {
            using var payload = JsonDocument.Parse(e.Payload);
            var change = payload.RootElement.GetProperty("Change");
            var updatedAt = change.GetProperty("UpdatedAt").GetDateTimeOffset();
            lock (_delays) _delays.Add(DateTimeOffset.UtcNow - updatedAt);
            if (change.GetProperty("Status").GetString() is "COMPLETED" or "FAILED" or "CANCELLED") _ended.TrySetResult();
        };
        _listening = ListenAsync();
    }

    /// <summary>
    /// Waits until some job's notification says it ended, or <paramref name="timeout"/> passes (a notification can be
    /// missed, so callers look at the job either way).
    /// </summary>
    public async Task ChangedAsync(TimeSpan timeout)
    {
        await Task.WhenAny(_ended.Task, Task.Delay(timeout));
        _ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
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
