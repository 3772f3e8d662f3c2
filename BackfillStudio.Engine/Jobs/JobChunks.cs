using System.Text.Json;
using System.Text.Json.Serialization;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Sources.Postgres;
using BackfillStudio.Engine.Verification;
using Npgsql;

namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// A chunk's share of its job: the matching rows whose key comes after <see cref="After"/> (exclusive) and up to
/// <see cref="UpTo"/> (inclusive), each a key's text per key column; a missing bound is open. For a table without a
/// primary key: the heap blocks from <see cref="FromBlock"/> to before <see cref="ToBlock"/> (positions
/// <c>heap index &lt;&lt; 32 | block</c> in the job's <see cref="Relations"/>; the last chunk's end is open, so it also
/// reads blocks the table grew by).
/// </summary>
public sealed record ChunkRange(
    [property: JsonPropertyName("no")] int No,
    [property: JsonPropertyName("of")] int Of,
    [property: JsonPropertyName("after")] IReadOnlyList<string>? After,
    [property: JsonPropertyName("up_to")] IReadOnlyList<string>? UpTo,
    [property: JsonPropertyName("planned_rows")] long PlannedRows,
    [property: JsonPropertyName("from_block")] long? FromBlock = null,
    [property: JsonPropertyName("to_block")] long? ToBlock = null,
    [property: JsonPropertyName("relations")] IReadOnlyList<uint>? Relations = null)
{
    public string ToJson() => JsonSerializer.Serialize(this);

    public static ChunkRange? FromJson(string? json) => json is null ? null : JsonSerializer.Deserialize<ChunkRange>(json);

    /// <summary>The prefix of the chunk's Parquet files in its job's folder, so chunks never write the same file.</summary>
    public string FilePrefix => $"part-c{No:D2}";
}

/// <summary>
/// Splits a big job into key ranges, each run as a chunk: a job row of its own that any engine claims, leases, fences
/// and checkpoints as it does a job (<see cref="JobStateStore"/>), while the parent job adds up their progress and ends
/// when they all have.
/// </summary>
public static class JobChunks
{
    public const int MaxChunks = 64;

    /// <summary>
    /// How many chunks a job copying <paramref name="total"/> rows runs as: the request's number, else
    /// <c>Backfill:MaxParallelChunks</c>, but none smaller than <c>Backfill:MinChunkRows</c>. 1 (the job runs whole) for a
    /// pipeline with a destination that takes one writer at a time (a DuckDB file).
    /// </summary>
    public static int CountFor(JobPlan plan, TableSchema table, long total, BackfillOptions options)
    {
        if (plan.Destinations.Any(d => !d.Settings.TakesConcurrentWriters)) return 1;
        var wanted = Math.Clamp(plan.Job.ParallelChunks ?? options.MaxParallelChunks, 1, MaxChunks);
        return (int)Math.Max(1, Math.Min(wanted, total / Math.Max(1, options.MinChunkRows)));
    }

    /// <summary>
    /// Cuts the matching rows into <paramref name="count"/> key ranges of about equal rows, in one pass over the key;
    /// together they cover every key (the first and last are open), so rows added meanwhile fall into one of them.
    /// </summary>
    public static async Task<IReadOnlyList<ChunkRange>> PlanAsync(NpgsqlConnection source, TableSchema table, FilterPredicate filter,
        long total, int count, CancellationToken ct)
    {
        if (table.PrimaryKey.Count == 0) return PlanBlocks(await PostgresBatchReader.HeapsAsync(source, table, ct), total, count);
        var rowsEach = total / count;
        var ranges = await new SourceVerifier(source, table, filter).RangesAsync((int)Math.Min(int.MaxValue, rowsEach), ct);
        return ranges.Select((r, i) => new ChunkRange(i + 1, ranges.Count, r.After?.Text, r.UpTo?.Text,
            i < ranges.Count - 1 ? rowsEach : total - rowsEach * (ranges.Count - 1))).ToList();
    }

    /// <summary>
    /// Cuts a table without a primary key into <paramref name="count"/> spans of about equal heap blocks (across its heaps,
    /// partitions included), at most one per block; their planned rows are the total shared by blocks.
    /// </summary>
    public static IReadOnlyList<ChunkRange> PlanBlocks(IReadOnlyList<(uint Oid, long Blocks)> heaps, long total, int count)
    {
        var blocks = heaps.Sum(h => h.Blocks);
        count = (int)Math.Max(1, Math.Min(count, blocks));
        var relations = heaps.Select(h => h.Oid).ToList();
        // The position of the n-th block of all the heaps, in the reader's heap index << 32 | block.
        long Position(long n)
        {
            for (var i = 0; i < heaps.Count; i++)
            {
                if (n < heaps[i].Blocks) return ((long)i << 32) | n;
                n -= heaps[i].Blocks;
            }
            return (long)heaps.Count << 32;
        }
        var ranges = new List<ChunkRange>();
        long planned = 0;
        for (var k = 0; k < count; k++)
        {
            var (from, to) = (blocks * k / count, blocks * (k + 1) / count);
            var rows = k == count - 1 ? total - planned : blocks == 0 ? 0 : total * (to - from) / blocks;
            planned += rows;
            ranges.Add(new ChunkRange(k + 1, count, null, null, rows, k == 0 ? 0 : Position(from), k == count - 1 ? null : Position(to), relations));
        }
        return ranges;
    }
}
