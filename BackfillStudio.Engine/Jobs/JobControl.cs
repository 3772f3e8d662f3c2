namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// Stops one running job's work at once — its in-flight source query and destination writes are cancelled and rolled
/// back — and says why: a user's cancel (the job ends CANCELLED), or the engine stopping or losing the claim.
/// </summary>
public sealed class JobControl : IDisposable
{
    private readonly CancellationTokenSource _stop;

    public JobControl(CancellationToken engineStopping) => _stop = CancellationTokenSource.CreateLinkedTokenSource(engineStopping);

    public CancellationToken Token => _stop.Token;

    /// <summary>True once a user asked to cancel the job (rather than the engine stopping it).</summary>
    public bool CancelRequested { get; private set; }

    public void RequestCancel()
    {
        CancelRequested = true;
        Stop();
    }

    public void Stop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The work has just ended.
        }
    }

    public void Dispose() => _stop.Dispose();
}

/// <summary>Carries "cancel job N" from the config database's NOTIFY (any node's API) to this engine's worker.</summary>
public sealed class JobCancelSignal
{
    public event Action<int>? Requested;

    public void Raise(int jobId) => Requested?.Invoke(jobId);
}
