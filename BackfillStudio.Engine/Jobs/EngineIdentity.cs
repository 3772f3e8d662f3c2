using BackfillStudio.Engine.Configuration;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Jobs;

/// <summary>Names this engine (<c>Backfill:EngineName</c>) and this process as the lease owner of the jobs it runs.</summary>
public sealed class EngineIdentity(IOptions<BackfillOptions> options)
{
    public string Name { get; } = options.Value.EngineName;

    public string Owner { get; } = $"{options.Value.EngineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";
}
