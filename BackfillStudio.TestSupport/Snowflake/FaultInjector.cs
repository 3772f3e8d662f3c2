namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>Faults waiting for matching statements; each is used up after the number of times it was injected for.</summary>
internal sealed class FaultInjector
{
    private sealed class Rule(Func<string, bool> matches, EmulatorFault fault, int times)
    {
        public Func<string, bool> Matches => matches;
        public EmulatorFault Fault => fault;
        public int Remaining { get; set; } = times;
    }

    private readonly Lock _gate = new();
    private readonly List<Rule> _rules = [];

    public void Add(Func<string, bool> matches, EmulatorFault fault, int times)
    {
        lock (_gate) _rules.Add(new Rule(matches, fault, times));
    }

    /// <summary>The fault for this statement, if one was injected for it; the earliest injected wins.</summary>
    public EmulatorFault? Take(string? statement)
    {
        if (statement is null) return null;
        lock (_gate)
        {
            var rule = _rules.FirstOrDefault(r => r.Matches(statement));
            if (rule is null) return null;
            rule.Remaining--;
            if (rule.Remaining == 0) _rules.Remove(rule);
            return rule.Fault;
        }
    }
}
