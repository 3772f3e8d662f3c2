namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>What clients sent: every request, and the handles they asked to cancel.</summary>
internal sealed class RequestLog
{
    private readonly Lock _gate = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly List<string> _cancelledHandles = [];

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_gate) return _requests.ToArray();
        }
    }

    public IReadOnlyList<string> CancelledHandles
    {
        get
        {
            lock (_gate) return _cancelledHandles.ToArray();
        }
    }

    public void Add(RecordedRequest request)
    {
        lock (_gate) _requests.Add(request);
    }

    public void AddCancelled(string handle)
    {
        lock (_gate) _cancelledHandles.Add(handle);
    }
}
