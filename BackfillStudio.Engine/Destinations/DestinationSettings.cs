namespace BackfillStudio.Engine.Destinations;

/// <summary>Decrypted, validated settings of one destination (its type's settings record); lives only in memory.</summary>
public abstract record DestinationSettings
{
    /// <summary>Secret values, so error messages and logs can be scrubbed of them.</summary>
    public abstract IEnumerable<string?> Secrets { get; }

    /// <summary>Whether several writers (the chunks of one job, <see cref="Jobs.JobChunks"/>) can write to it at once.</summary>
    public virtual bool TakesConcurrentWriters => true;
}
