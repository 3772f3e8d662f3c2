namespace BackfillStudio.Engine.Events;

/// <summary>
/// In-process fan-out of <see cref="JobChanged"/> events; subscribers dispose their subscription to leave. A null event
/// (<see cref="PublishResync"/>) means events may have been missed: subscribers reload whatever they show.
/// </summary>
public sealed class JobEventBus
{
    private readonly Lock _gate = new();
    private volatile Action<JobChanged?>[] _handlers = [];

    /// <param name="handler">Called with each change, or with null after changes may have been missed.</param>
    public IDisposable Subscribe(Action<JobChanged?> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate) _handlers = [.. _handlers, handler];
        return new Subscription(this, handler);
    }

    public void Publish(JobChanged change) => Deliver(change);

    /// <summary>Other processes' changes may have been missed (the config database's connection was lost meanwhile).</summary>
    public void PublishResync() => Deliver(null);

    private void Deliver(JobChanged? change)
    {
        foreach (var handler in _handlers)
        {
            try
            {
                handler(change);
            }
            catch (Exception)
            {
                // A failing subscriber (e.g. a closed page) must not stop the engine or other subscribers.
            }
        }
    }

    private void Unsubscribe(Action<JobChanged?> handler)
    {
        lock (_gate) _handlers = _handlers.Where(h => h != handler).ToArray();
    }

    private sealed class Subscription(JobEventBus bus, Action<JobChanged?> handler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) bus.Unsubscribe(handler);
        }
    }
}
