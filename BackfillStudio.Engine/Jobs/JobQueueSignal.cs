namespace BackfillStudio.Engine.Jobs;

/// <summary>Wakes the worker when a job may be claimable: a NOTIFY arrived, a job was created here, or a slot freed up.</summary>
public sealed class JobQueueSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Wake()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled; one wake-up covers any number of reasons.
        }
    }

    /// <summary>Waits for a wake-up or the timeout (the polling fallback).</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);
}
