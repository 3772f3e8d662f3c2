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
/// reads blocks the table grew by), stored as <see cref="Filenodes"/> then. <see cref="Columns"/> are the table's columns when the
/// job was split, which the chunk copies.
/// </summary>
public sealed record ChunkRange(
    [property: JsonPropertyName("no")] int No,
    [property: JsonPropertyName("of")] int Of,
    [property: JsonPropertyName("after")] IReadOnlyList<string>? After,
    [property: JsonPropertyName("up_to")] IReadOnlyList<string>? UpTo,
    [property: JsonPropertyName("planned_rows")] long PlannedRows,
    [property: JsonPropertyName("from_block")] long? FromBlock = null,
    [property: JsonPropertyName("to_block")] long? ToBlock = null,
    [property: JsonPropertyName("relations")] IReadOnlyList<uint>? Relations = null,
    [property: JsonPropertyName("filenodes")] IReadOnlyList<uint>? Filenodes = null,
    [property: JsonPropertyName("columns")] IReadOnlyList<string>? Columns = null,
    [property: JsonPropertyName("plan")] string? Plan = null)
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
    /// pipeline with a destination that takes one writer at a time (a DuckDB file), and for a table without a primary key
    /// unless the request asks for chunks: each chunk reads its span of blocks in a snapshot of its own, taken when the
    /// chunk starts, so a row updated between two chunks' starts may move from one span to the other and be copied twice
    /// or missed; whole, the job reads every block in one snapshot (<see cref="PostgresBatchReader"/>).
    /// </summary>
    public static int CountFor(JobPlan plan, TableSchema table, long total, BackfillOptions options)
    {
        if (plan.Destinations.Any(d => !d.Settings.TakesConcurrentWriters)) return 1;
        var byDefault = table.PrimaryKey.Count > 0 ? options.MaxParallelChunks : 1;
        var wanted = Math.Clamp(plan.Job.ParallelChunks ?? byDefault, 1, MaxChunks);
        return (int)Math.Max(1, Math.Min(wanted, total / Math.Max(1, options.MinChunkRows)));
    }

    /// <summary>How many matching rows a plan samples for its key bounds (all of them in a smaller job).</summary>
    public const int SampleRows = 100_000;

    /// <summary>
    /// Cuts the matching rows into <paramref name="count"/> key ranges of about equal rows; together they cover every key
    /// (the first and last are open), so rows added meanwhile fall into one of them.
    /// </summary>
    /// <param name="sampleRows">How many matching rows the key bounds are taken from (tests make it too small to cut).</param>
    public static async Task<IReadOnlyList<ChunkRange>> PlanAsync(NpgsqlConnection source, TableSchema table, FilterPredicate filter,
        long total, int count, int sampleRows, CancellationToken ct)
    {
        if (table.PrimaryKey.Count == 0) return PlanBlocks(await PostgresBatchReader.HeapsAsync(source, table, ct), total, count);
        var rowsEach = total / count;
        var bounds = await SampledBoundsAsync(source, table, filter, 100.0 * sampleRows / Math.Max(1, total), count, ct)
            ?? (await new SourceVerifier(source, table, filter).RangesAsync((int)Math.Min(int.MaxValue, rowsEach), ct)).Skip(1).Select(r => r.After!.Text).ToList();
        return Enumerable.Range(0, bounds.Count + 1).Select(i => new ChunkRange(i + 1, bounds.Count + 1, i == 0 ? null : bounds[i - 1],
            i == bounds.Count ? null : bounds[i], i < bounds.Count ? rowsEach : total - rowsEach * bounds.Count)).ToList();
    }

    /// <summary>
    /// The keys that cut a sample of the matching rows into <paramref name="count"/> equal parts, the sample read from
    /// <paramref name="percent"/> of the table's pages (<c>TABLESAMPLE SYSTEM</c>): a short query where a pass over every
    /// key takes as long as reading a tenth of the table. Null when the sample is too small to cut (matching rows
    /// clustered in pages it missed): the caller then counts every key.
    /// </summary>
    private static async Task<List<IReadOnlyList<string>>?> SampledBoundsAsync(NpgsqlConnection source, TableSchema table, FilterPredicate filter,
        double percent, int count, CancellationToken ct)
    {
        var key = table.PrimaryKey;
        await using var cmd = new NpgsqlCommand($"""
            SELECT {string.Join(", ", key.Select(c => $"src.{Sql.Ident(c.Name)}::text"))}
            FROM {table.QualifiedSql} AS src TABLESAMPLE SYSTEM (@percent) WHERE {filter.Sql}
            ORDER BY {string.Join(", ", key.Select(c => $"src.{Sql.Ident(c.Name)}"))}
            """, source);
        filter.AddParameters(cmd);
        cmd.Parameters.Add(new NpgsqlParameter("percent", NpgsqlTypes.NpgsqlDbType.Real) { Value = (float)Math.Min(100, percent) });
        var sample = new List<IReadOnlyList<string>>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) sample.Add(Enumerable.Range(0, key.Count).Select(reader.GetString).ToList());
        }
        if (sample.Count < count * 50) return null;
        return Enumerable.Range(1, count - 1).Select(i => sample[(int)((long)sample.Count * i / count) - 1]).ToList();
    }

    /// <summary>
    /// Cuts a table without a primary key into <paramref name="count"/> spans of about equal heap blocks (across its heaps,
    /// partitions included), at most one per block; their planned rows are the total shared by blocks.
    /// </summary>
    public static IReadOnlyList<ChunkRange> PlanBlocks(IReadOnlyList<(uint Oid, long Blocks, uint Filenode)> heaps, long total, int count)
    {
        var blocks = heaps.Sum(h => h.Blocks);
        count = (int)Math.Max(1, Math.Min(count, blocks));
        var relations = heaps.Select(h => h.Oid).ToList();
        var filenodes = heaps.Select(h => h.Filenode).ToList();
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
            ranges.Add(new ChunkRange(k + 1, count, null, null, rows, k == 0 ? 0 : Position(from), k == count - 1 ? null : Position(to), relations,
                filenodes));
        }
        return ranges;
    }
}
