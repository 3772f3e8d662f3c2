using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Verification;

namespace BackfillStudio.Engine.Destinations;

/// <summary>
/// Measures a job's table in one destination for verification, inside the destination (no rows leave it), and
/// removes a range's rows before a repair re-copies them. Built for one <see cref="VerifyScope"/>; a filter the
/// destination cannot evaluate exactly as PostgreSQL does makes the constructor or <see cref="OpenAsync"/> throw
/// <see cref="NotSupportedException"/> naming it.
/// </summary>
public interface IDestinationVerifier : IAsyncDisposable
{
    Task OpenAsync(CancellationToken ct);

    /// <summary>The columns whose canonical text this destination renders as PostgreSQL does; the others are compared by count only.</summary>
    IReadOnlyList<SourceColumn> ChecksumColumns { get; }

    /// <summary>
    /// Whether other jobs' copies may hold rows in the same target (a table), so that a repair of a filtered job writes
    /// the rows that left its filters as the source has them now before it deletes (<see cref="RepairKeys"/>); false for a
    /// job's own folder of files, which holds only the rows that match its filters.
    /// </summary>
    bool SharesTarget => true;

    /// <summary>False when the destination cannot order the key as PostgreSQL does: it is then measured as a whole.</summary>
    bool OrdersKeys { get; }

    /// <summary>The rows of <paramref name="range"/> that match the job's filters: their count and, when asked, their checksum over <see cref="ChecksumColumns"/>.</summary>
    Task<RangeMeasure> MeasureAsync(KeyRange range, bool checksum, CancellationToken ct);

    /// <summary>The keys' canonical texts (see <see cref="RepairKeys"/>) of the rows of <paramref name="range"/> that match the job's filters.</summary>
    Task<IReadOnlyList<string[]>> MatchingKeysAsync(KeyRange range, CancellationToken ct);

    /// <summary>Deletes the rows of <paramref name="range"/> that match the job's filters.</summary>
    Task DeleteAsync(KeyRange range, CancellationToken ct);
}
