using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;

namespace BackfillStudio.Engine.Destinations;

/// <summary>
/// What a writer writes: the source table's schema and the target table name in the destination;
/// <paramref name="Source"/> names the source table for <see cref="TargetOwnership"/>; <paramref name="Epoch"/> is the
/// job's claim the writes belong to (<see cref="ClaimFence"/>). Files written per batch
/// (Parquet) are named <c>&lt;FilePrefix&gt;-&lt;batch&gt;</c>: a repair writes under its own prefix, a chunk under its number.
/// <paramref name="ParentJobId"/> is set when the job is a chunk: the job it is part of, whose Parquet folder it writes to.
/// <paramref name="CheckpointedBatches"/> is how many batches the job's checkpoint says its destinations hold: the next
/// batch written is that number, whatever an earlier run wrote past it before it stopped.
/// </summary>
public sealed record WriteTarget(int JobId, long Epoch, TableSchema Table, string TargetTable, string Source, string FilePrefix = "part",
    int? ParentJobId = null, long CheckpointedBatches = 0);

/// <summary>Writes one job's batches into one destination, idempotently.</summary>
public interface IDestinationWriter : IAsyncDisposable
{
    /// <summary>
    /// Creates the target table when missing (and adds missing columns), and claims it for the job's source
    /// table, failing when another source table filled it (<see cref="TargetOwnership"/>).
    /// </summary>
    Task PrepareAsync(CancellationToken ct);

    /// <summary>
    /// Whether, once prepared, this writer takes batches of the source's binary COPY output in the target's types
    /// (<see cref="BatchFormat.PostgresCopy"/>) as well as decoded rows. A job whose destinations all do reads its rows without decoding them.
    /// </summary>
    bool TakesBinaryCopy => false;

    /// <summary>Whether this writer loads binary COPY rows into a DuckDB stage (<see cref="BatchFormat.StageCopy"/>) as well as decoded rows.</summary>
    bool TakesStageCopy => false;

    /// <summary>
    /// Throws <see cref="ValueRejectedException"/> for a value of the batch this destination cannot hold exactly.
    /// Runs for every destination before any of them writes the batch.
    /// </summary>
    void CheckValues(Batch batch)
    {
    }

    /// <summary>
    /// Writes a batch so that writing it again (a retried or resumed job) leaves the destination
    /// unchanged: upsert on the primary key, or a batch marker for tables without one. Throws
    /// <see cref="StaleClaimException"/>, writing nothing, when the destination holds a newer claim's batches.
    /// </summary>
    Task WriteAsync(Batch batch, CancellationToken ct);
}
