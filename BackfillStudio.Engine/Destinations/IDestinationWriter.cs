using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Staging;

namespace BackfillStudio.Engine.Destinations;

/// <summary>What a writer writes: the source table's schema and the target table name in the destination.</summary>
public sealed record WriteTarget(int JobId, TableSchema Table, string TargetTable);

/// <summary>Writes one job's batches into one destination, idempotently.</summary>
public interface IDestinationWriter : IAsyncDisposable
{
    /// <summary>Creates the target table when missing (and adds missing columns).</summary>
    Task PrepareAsync(CancellationToken ct);

    /// <summary>
    /// Writes a batch so that writing it again (a retried or resumed job) leaves the destination
    /// unchanged: upsert on the primary key, or a batch marker for tables without one.
    /// </summary>
    Task WriteAsync(StagedBatch batch, CancellationToken ct);
}
