namespace BackfillStudio.Engine.Jobs;

/// <summary>Names this engine process as the lease owner of the jobs it runs.</summary>
public sealed class EngineIdentity
{
    public string Owner { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";
}
