namespace BackfillStudio.Engine.Sources;

/// <summary>
/// Keeps a job from overloading its source, read by read. A rows/s ceiling (the job's <c>max_rows_per_second</c>, or
/// its source's) spaces the reads so the job reads no faster on average, with batches of at most half a second of rows
/// so the pace is even; time not used is not saved up for a burst later. And when one read takes longer than the
/// latency target (<c>Backfill:SourceLatencyTargetMs</c>, 0 for none), the source is busy: the next read waits as long as
/// that read took and asks for half as many rows; each read under half the target doubles them back towards the batch
/// size. (Block-range reads of a table without a primary key have a fixed size, so they only wait.)
/// </summary>
public sealed class SourceGovernor
{
    private readonly int? _ceiling;
    private readonly TimeSpan _latencyTarget;
    private readonly int _maxRows;
    private readonly int _minRows;
    private readonly TimeProvider _time;
    private long _earliestNextRead;
    private int _rows;

    /// <param name="maxRowsPerSecond">The ceiling, or null for none.</param>
    /// <param name="maxRows">The batch size: what a read asks for when nothing holds it back.</param>
    /// <param name="sizedReads">Whether reads honour <see cref="RowLimit"/> (keyset reads do, block ranges do not).</param>
    public SourceGovernor(int? maxRowsPerSecond, TimeSpan latencyTarget, int maxRows, bool sizedReads, TimeProvider? time = null)
    {
        _ceiling = maxRowsPerSecond;
        _latencyTarget = latencyTarget;
        _maxRows = maxRowsPerSecond is { } ceiling && sizedReads ? Math.Clamp(ceiling / 2, 1, maxRows) : maxRows;
        _minRows = sizedReads ? Math.Max(1, _maxRows / 64) : _maxRows;
        _rows = _maxRows;
        _time = time ?? TimeProvider.System;
        _earliestNextRead = _time.GetTimestamp();
    }

    /// <summary>How many rows the next read asks for.</summary>
    public int RowLimit => _rows;

    /// <summary>Why reads are held back at the moment (shown on the job), or null when they run freely.</summary>
    public string? Throttled { get; private set; }

    /// <summary>
    /// Waits until the source may be read again, then runs <paramref name="read"/> with <see cref="RowLimit"/> and learns
    /// from how long it took. <paramref name="read"/> returns the batch and how many rows it held.
    /// </summary>
    public async Task<T> ReadAsync<T>(Func<int, Task<T>> read, Func<T, int> rowsOf, CancellationToken ct)
    {
        var wait = _time.GetElapsedTime(_time.GetTimestamp(), _earliestNextRead);
        if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, ct);
        var started = _time.GetTimestamp();
        var result = await read(_rows);
        Learn(rowsOf(result), _time.GetElapsedTime(started), started, waited: wait > TimeSpan.Zero);
        return result;
    }

    private void Learn(int rows, TimeSpan took, long started, bool waited)
    {
        var next = started;
        string? reason = null;
        if (_ceiling is { } ceiling)
        {
            next += (long)(rows / (double)ceiling * _time.TimestampFrequency);
            if (waited) reason = $"limited to {ceiling:N0} rows/s";
        }
        if (_latencyTarget > TimeSpan.Zero && took > _latencyTarget)
        {
            _rows = Math.Max(_minRows, _rows / 2);
            next = Math.Max(next, _time.GetTimestamp() + (long)(took.TotalSeconds * _time.TimestampFrequency));
            reason = $"the source is slow (a read took {took.TotalMilliseconds:N0} ms, target {_latencyTarget.TotalMilliseconds:N0} ms): " +
                     (_rows < _maxRows ? $"reading {_rows:N0} rows at a time, pausing between reads" : "pausing between reads");
        }
        else
        {
            if (_latencyTarget > TimeSpan.Zero && took < _latencyTarget / 2) _rows = Math.Min(_maxRows, _rows * 2);
            if (_rows < _maxRows) reason ??= $"the source was slow: reading {_rows:N0} rows at a time until reads are fast again";
        }
        _earliestNextRead = next;
        Throttled = reason;
    }
}
