namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// Statements by handle (their outcome, and whether polls must still see them running), successful answers by
/// requestId for retries, and how often each requestId was executed.
/// </summary>
internal sealed class StatementStore
{
    private sealed class Entry
    {
        public StatementResponse? Outcome { get; set; }
        public int PendingPolls { get; set; }
        public bool Hanging { get; set; }
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Entry> _statements = new();
    private readonly Dictionary<Guid, StatementResponse> _successes = new();
    private readonly Dictionary<Guid, int> _executions = new();
    private readonly Dictionary<Guid, IReadOnlyList<StatementResponse>> _partitions = new();

    /// <param name="pendingPolls">How many status polls answer 202 before the outcome.</param>
    public void Complete(Guid handle, StatementResponse outcome, int pendingPolls = 0)
    {
        lock (_gate) _statements[handle] = new Entry { Outcome = outcome, PendingPolls = pendingPolls };
    }

    public void Hang(Guid handle)
    {
        lock (_gate) _statements[handle] = new Entry { Hanging = true };
    }

    /// <returns>False for an unknown handle; otherwise true, with a null outcome while the statement still runs.</returns>
    public bool TryPoll(Guid handle, out StatementResponse? outcome)
    {
        outcome = null;
        lock (_gate)
        {
            if (!_statements.TryGetValue(handle, out var entry)) return false;
            if (entry.Hanging) return true;
            if (entry.PendingPolls > 0)
            {
                entry.PendingPolls--;
                return true;
            }
            outcome = entry.Outcome;
            return true;
        }
    }

    /// <summary>A hanging statement ends with <paramref name="cancelled"/>; finished ones keep their outcome.</summary>
    /// <returns>False for an unknown handle.</returns>
    public bool Cancel(Guid handle, StatementResponse cancelled)
    {
        lock (_gate)
        {
            if (!_statements.TryGetValue(handle, out var entry)) return false;
            if (entry.Hanging)
            {
                entry.Hanging = false;
                entry.Outcome = cancelled;
            }
            return true;
        }
    }

    /// <summary>The partitions after the first of a statement's result, which its answer holds.</summary>
    public void KeepPartitions(Guid handle, IReadOnlyList<StatementResponse> partitions)
    {
        if (partitions.Count == 0) return;
        lock (_gate) _partitions[handle] = partitions;
    }

    /// <returns>Partition <paramref name="n"/> (1 is the second) of the statement's result, or null when it has none such.</returns>
    public StatementResponse? PartitionOf(Guid handle, int n)
    {
        lock (_gate) return _partitions.TryGetValue(handle, out var partitions) && n >= 1 && n <= partitions.Count ? partitions[n - 1] : null;
    }

    public void RememberSuccess(Guid requestId, StatementResponse response)
    {
        lock (_gate) _successes[requestId] = response;
    }

    public StatementResponse? SuccessFor(Guid requestId)
    {
        lock (_gate) return _successes.GetValueOrDefault(requestId);
    }

    public void CountExecution(Guid requestId)
    {
        lock (_gate) _executions[requestId] = _executions.GetValueOrDefault(requestId) + 1;
    }

    public int Executions(Guid requestId)
    {
        lock (_gate) return _executions.GetValueOrDefault(requestId);
    }
}
