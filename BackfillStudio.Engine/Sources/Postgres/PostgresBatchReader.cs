using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Jobs;
using Npgsql;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>
/// Reads a table's matching rows in batches: keyset pagination on the primary key (composite keys too),
/// or heap-block (<c>ctid</c>) ranges for tables without one. Never OFFSET.
/// <paramref name="upTo"/> (a key's text per key column) ends the read at that key, inclusive: a repair re-reads one range.
/// A keyset batch also ends at the byte budget of <paramref name="limits"/> (block ranges hold about a row count); its
/// LIMIT follows the row width (the catalog's estimate, then what the batches held), so little is fetched past the budget.
/// </summary>
public sealed class PostgresBatchReader(NpgsqlConnection connection, TableSchema table, FilterPredicate filter, BatchLimits limits,
    IReadOnlyList<string>? upTo = null)
{
    private double? _rowBytes;
    private bool _estimated;

    private readonly Func<NpgsqlDataReader, int, object?>[] _readers = table.Columns.Select(ColumnValueReader.For).ToArray();
    private readonly string _columns = SelectList(table);
    private HeapLayout? _heaps;

    public bool UsesKeyset => table.PrimaryKey.Count > 0;

    /// <summary>The columns, then one shape check per typed array column (see <see cref="ColumnValueReader.ShapeCheckExpression"/>).</summary>
    private static string SelectList(TableSchema table) => string.Join(", ", table.Columns.Select(ColumnValueReader.SelectExpression)
        .Concat(table.Columns.Select(ColumnValueReader.ShapeCheckExpression).OfType<string>()));

    /// <summary>The typed array columns, whose shape checks follow the columns in each row.</summary>
    private readonly SourceColumn[] _arrays = table.Columns.Where(c => c.Kind == ValueKind.Array).ToArray();

    /// <summary>
    /// Reads the batch that follows <paramref name="cursor"/>; null when no matching rows remain. A keyset batch holds at
    /// most <paramref name="maxRows"/> rows (the source governor's say); a block range's size is fixed for the whole job.
    /// </summary>
    public Task<Batch?> ReadAsync(ResumeCursor cursor, CancellationToken ct, int? maxRows = null) =>
        UsesKeyset ? ReadKeysetAsync(cursor, Math.Min(maxRows ?? limits.Rows, limits.Rows), ct) : ReadBlocksAsync(cursor, ct);

    private async Task<Batch?> ReadKeysetAsync(ResumeCursor cursor, int maxRows, CancellationToken ct)
    {
        var pk = table.PrimaryKey;
        // Table-qualified, because ORDER BY would otherwise resolve a name to a (text-cast) output column.
        var keyList = string.Join(", ", pk.Select(c => $"src.{Sql.Ident(c.Name)}"));
        var keyText = string.Join(", ", pk.Select((c, i) => $"src.{Sql.Ident(c.Name)}::text AS backfill_key_{i}"));
        var after = cursor.LastKey is null
            ? ""
            : $" AND ({keyList}) > ({string.Join(", ", pk.Select((c, i) => $"CAST(@k{i} AS {c.DataType})"))})";
        if (upTo is not null) after += $" AND ({keyList}) <= ({string.Join(", ", pk.Select((c, i) => $"CAST(@u{i} AS {c.DataType})"))})";
        await using var cmd = new NpgsqlCommand(
            $"SELECT {_columns}, {keyText} FROM {table.QualifiedSql} AS src WHERE ({filter.Sql}){after} ORDER BY {keyList} LIMIT @limit",
            connection);
        filter.AddParameters(cmd);
        for (var i = 0; cursor.LastKey is not null && i < pk.Count; i++) cmd.Parameters.AddWithValue($"k{i}", cursor.LastKey[i]);
        for (var i = 0; upTo is not null && i < pk.Count; i++) cmd.Parameters.AddWithValue($"u{i}", upTo[i]);
        if (!_estimated && limits.Bytes != long.MaxValue) _rowBytes = await EstimateRowBytesAsync(ct);
        _estimated = true;
        var limit = NextLimit(maxRows);
        cmd.Parameters.AddWithValue("limit", limit);

        var rows = new List<object?[]>(limit);
        long bytes = 0;
        string[]? lastKey = null;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            var keyOrdinal = _readers.Length + _arrays.Length;
            while (bytes < limits.Bytes && await reader.ReadAsync(ct))
            {
                var row = ReadRow(reader);
                rows.Add(row);
                bytes += BatchLimits.SizeOf(row);
                lastKey ??= new string[pk.Count];
                for (var i = 0; i < pk.Count; i++) lastKey[i] = reader.GetString(keyOrdinal + i);
            }
        }
        if (rows.Count == 0) return null;
        _rowBytes = (double)bytes / rows.Count;
        return new Batch(cursor.Batches, rows, new KeySpan(cursor.LastKey, lastKey!), null, new ResumeCursor(cursor.Batches + 1, lastKey, null, null));
    }

    /// <summary>As many rows as fit the byte budget at the width known so far, within the row limit.</summary>
    private int NextLimit(int maxRows) => _rowBytes is { } width ? (int)Math.Clamp(limits.Bytes / width, 1, maxRows) : maxRows;

    /// <summary>
    /// The table's stored bytes (TOAST included) per row, doubled for text decoded as UTF-16; null when the table was
    /// never analyzed (the first batch then stops at the budget and fetches the rest of its page for nothing).
    /// </summary>
    private async Task<double?> EstimateRowBytesAsync(CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT CASE WHEN c.reltuples > 0 THEN 2 * pg_table_size(c.oid) / c.reltuples END FROM pg_class c WHERE c.oid = to_regclass(@table)",
            connection);
        cmd.Parameters.AddWithValue("table", table.QualifiedSql);
        return await cmd.ExecuteScalarAsync(ct) is double width && width > 0 ? width : null;
    }

    /// <summary>
    /// Block ranges of each heap that holds the table's rows: the table itself, or every leaf partition and
    /// inheritance child (a partitioned parent has no heap of its own). The cursor's position is
    /// <c>heap index &lt;&lt; 32 | block</c>, so it only grows, and the heaps are fixed in the cursor when the job starts.
    /// </summary>
    private async Task<Batch?> ReadBlocksAsync(ResumeCursor cursor, CancellationToken ct)
    {
        _heaps ??= await HeapLayout.ReadAsync(connection, table, cursor.Relations, limits, ct);
        var step = cursor.BlocksPerBatch ?? _heaps.BlocksPerBatch;
        var position = cursor.NextBlock ?? 0;
        var rows = new List<object?[]>();
        while (rows.Count == 0 && (int)(position >> 32) < _heaps.Heaps.Count)
        {
            var heap = _heaps.Heaps[(int)(position >> 32)];
            var start = position & uint.MaxValue;
            if (start >= heap.Blocks)
            {
                position = ((position >> 32) + 1) << 32;
                continue;
            }
            // Ranges are never clamped to the heap's end, so a resumed job sees exactly the same ranges.
            var end = start + step;
            await using var cmd = new NpgsqlCommand($"""
                SELECT {_columns} FROM ONLY {heap.QualifiedSql}
                WHERE ctid >= ('(' || @b0 || ',0)')::tid AND ctid < ('(' || @b1 || ',0)')::tid AND ({filter.Sql})
                """, connection);
            filter.AddParameters(cmd);
            cmd.Parameters.AddWithValue("b0", start);
            cmd.Parameters.AddWithValue("b1", end);
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct)) rows.Add(ReadRow(reader));
            }
            // A range reaching past block 2^32 - 1 (a heap of 32 TB) ends with the heap, never in the next heap's bits.
            var next = (position & ~(long)uint.MaxValue) | Math.Min(end, uint.MaxValue);
            if (rows.Count == 0) position = next;
            else return new Batch(cursor.Batches, rows, null, next, new ResumeCursor(cursor.Batches + 1, null, next, step, _heaps.Oids));
        }
        return null;
    }

    private object?[] ReadRow(NpgsqlDataReader reader)
    {
        for (var i = 0; i < _arrays.Length; i++)
        {
            if (reader.IsDBNull(_readers.Length + i)) continue;
            throw new ValueRejectedException(table.TableName, _arrays[i].Name, reader.GetString(_readers.Length + i),
                "is a multi-dimensional array or has a lower bound other than 1, which a typed array column cannot hold.");
        }
        var row = new object?[_readers.Length];
        for (var i = 0; i < row.Length; i++) row[i] = _readers[i](reader, i);
        return row;
    }

    private sealed record Heap(uint Oid, string QualifiedSql, long Blocks);

    /// <summary>
    /// The heaps holding the table's rows, their sizes now, and how many blocks hold about one batch: <c>BatchSize</c> rows
    /// or <c>BatchMaxBytes</c> of decoded values (the stored bytes per block, TOAST included, doubled for UTF-16 text),
    /// whichever is fewer blocks. A block is the least a range can hold: a block of many huge TOASTed rows can exceed
    /// the byte budget.
    /// </summary>
    private sealed record HeapLayout(IReadOnlyList<Heap> Heaps, long BlocksPerBatch)
    {
        public IReadOnlyList<uint> Oids { get; } = Heaps.Select(h => h.Oid).ToList();

        public static async Task<HeapLayout> ReadAsync(NpgsqlConnection connection, TableSchema table, IReadOnlyList<uint>? fixedOids,
            BatchLimits limits, CancellationToken ct)
        {
            await using var cmd = new NpgsqlCommand("""
                WITH RECURSIVE tree(oid) AS (
                    SELECT @oid::oid
                    UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
                SELECT c.oid, n.nspname, c.relname, c.relkind::text,
                       pg_relation_size(c.oid) / current_setting('block_size')::bigint, c.relpages::bigint, GREATEST(c.reltuples, 0)::float8,
                       pg_table_size(c.oid)
                FROM tree JOIN pg_class c ON c.oid = tree.oid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind <> 'p'
                ORDER BY c.oid
                """, connection);
            cmd.Parameters.Add(new NpgsqlParameter("oid", NpgsqlTypes.NpgsqlDbType.Oid) { Value = table.Oid });
            var heaps = new List<Heap>();
            long pages = 0, stored = 0;
            double tuples = 0;
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    var name = $"{Sql.Ident(reader.GetString(1))}.{Sql.Ident(reader.GetString(2))}";
                    if (reader.GetString(3) != "r")
                        throw new InvalidOperationException($"{table.TableName} has no primary key and its part {name} is not a plain table " +
                            "(for example a foreign table), so it cannot be read in block ranges. Add a primary key to copy it.");
                    heaps.Add(new Heap(reader.GetFieldValue<uint>(0), name, reader.GetInt64(4)));
                    pages += reader.GetInt64(5);
                    tuples += reader.GetDouble(6);
                    if (reader.GetInt64(5) > 0) stored += reader.GetInt64(7);
                }
            }
            // A resumed job reads the heaps it started with, in the same order; a heap dropped since holds no rows to copy.
            if (fixedOids is not null)
                heaps = fixedOids.Select(oid => heaps.FirstOrDefault(h => h.Oid == oid) ?? new Heap(oid, "", 0)).ToList();
            var rowsPerBlock = pages > 0 && tuples > 0 ? tuples / pages : 100;
            var byRows = limits.Rows / Math.Max(1.0, rowsPerBlock);
            // Analyzed heaps only (relpages > 0), like the row estimate; 2x: text decodes to UTF-16.
            var byBytes = pages > 0 && stored > 0 ? limits.Bytes / (2.0 * stored / pages) : double.MaxValue;
            return new HeapLayout(heaps, Math.Max(1, (long)Math.Min(byRows, byBytes)));
        }
    }
}
