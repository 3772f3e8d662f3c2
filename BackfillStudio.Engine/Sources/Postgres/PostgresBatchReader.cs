using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Destinations.Postgres;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Jobs;
using Npgsql;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>
/// Reads a table's matching rows in batches: keyset pagination on the primary key (composite keys too),
/// or heap-block (<c>ctid</c>) ranges for tables without one, all in one snapshot (<see cref="BeginSnapshotAsync"/>). Never OFFSET.
/// <paramref name="upTo"/> (a key's text per key column) ends the read at that key, inclusive: a repair re-reads one range.
/// <paramref name="untilBlock"/> ends a block-range read before that position (<c>heap index &lt;&lt; 32 | block</c>): a chunk
/// of a table without a primary key reads its own blocks only.
/// A keyset batch also ends at the byte budget of <paramref name="limits"/> (block ranges hold about a row count); a
/// decoded page's LIMIT follows the row width (the catalog's estimate, then what the batches held), so little is fetched
/// past the budget.
/// <para>
/// In a binary <paramref name="format"/> the rows are not decoded: they come from a <c>COPY (SELECT ...) TO STDOUT (FORMAT
/// BINARY)</c> kept as it comes (<see cref="BinaryCopyCapture"/>), for PostgreSQL destinations to load as it is or DuckDB
/// stages to append field by field; a keyset read streams one such COPY over many batches (a segment, see
/// <see cref="StreamKeysetAsync"/>), so dispose the reader to end it. COPY takes no parameters, so filter values and key
/// bounds reach it as session values (<see cref="SessionValues"/>).
/// </para>
/// </summary>
public sealed class PostgresBatchReader(NpgsqlConnection connection, TableSchema table, FilterPredicate filter, BatchLimits limits,
    IReadOnlyList<string>? upTo = null, BatchFormat format = BatchFormat.Decoded, long? untilBlock = null) : IAsyncDisposable
{
    private readonly bool _binaryCopy = format != BatchFormat.Decoded;

    private double? _rowBytes;
    private bool _estimated;

    private readonly Func<NpgsqlDataReader, int, object?>[] _readers = table.Columns.Select(ColumnValueReader.For).ToArray();
    private readonly string _columns = format == BatchFormat.PostgresCopy ? BinarySelectList(table) : SelectList(table);
    private HeapLayout? _heaps;
    private readonly BinaryCopyBuffers _buffers = new();
    private CopySegment? _segment;
    private TimeSpan? _maxSegmentAge;
    private readonly IntegerCopyKey? _integerKey = IntegerKeyOf(table);
    private bool _inTransaction;

    public bool UsesKeyset => table.PrimaryKey.Count > 0;

    /// <summary>The columns, then one shape check per typed array column (see <see cref="ColumnValueReader.ShapeCheckExpression"/>).</summary>
    private static string SelectList(TableSchema table) => string.Join(", ", table.Columns.Select(ColumnValueReader.SelectExpression)
        .Concat(table.Columns.Select(ColumnValueReader.ShapeCheckExpression).OfType<string>()));

    /// <summary>
    /// The columns of a binary COPY, each in its type in a PostgreSQL target (<see cref="PostgresTypes.TargetType"/>): its
    /// own, its domain's base type, or text for enums and other user-defined types, whose binary forms other databases cannot read.
    /// </summary>
    private static string BinarySelectList(TableSchema table) => string.Join(", ", table.Columns.Select(c =>
        PostgresTypes.TargetType(c) is var type && type == c.DataType ? $"src.{Sql.Ident(c.Name)}" : $"CAST(src.{Sql.Ident(c.Name)} AS {type})"));

    /// <summary>
    /// Whether every column's binary form means the same in another database, so a binary reader may be made: built-in
    /// types have binary send/receive functions, but not all of them; <c>money</c> is sent in units of the source's
    /// <c>lc_monetary</c> (cents, or yen, ...), the <c>reg*</c> types as OIDs of the source's own catalog, and <c>xml</c> as
    /// the parsed document printed anew (a declaration of version 1.0 alone left out), whose declared encoding the receiving
    /// side obeys (as text, an 'é' declared ISO-8859-1 would be read as 'Ã©').
    /// </summary>
    public static async Task<bool> CanCopyBinaryAsync(NpgsqlConnection connection, TableSchema table, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT coalesce(bool_and(t.typsend <> 0 AND t.typreceive <> 0 AND t.typname NOT IN ('money', 'xml') AND t.typname NOT LIKE 'reg%'
                AND (e.oid IS NULL OR e.typsend <> 0 AND e.typreceive <> 0 AND e.typname NOT IN ('money', 'xml') AND e.typname NOT LIKE 'reg%')), true)
            FROM unnest(@types) AS n(name)
            JOIN pg_type t ON t.oid = n.name::regtype
            LEFT JOIN pg_type e ON t.typcategory = 'A' AND e.oid = t.typelem
            """, connection);
        cmd.Parameters.AddWithValue("types", table.Columns.Select(PostgresTypes.TargetType).Distinct().ToArray());
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

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
        var bounds = new List<(string Name, string Value)>();
        string Bound(string prefix, IReadOnlyList<string> key)
        {
            bounds.AddRange(key.Select((text, i) => ($"{prefix}{i}", text)));
            return string.Join(", ", pk.Select((c, i) => $"CAST({Value($"{prefix}{i}")} AS {c.DataType})"));
        }
        var after = cursor.LastKey is null ? "" : $" AND ({keyList}) > ({Bound("k", cursor.LastKey)})";
        if (upTo is not null) after += $" AND ({keyList}) <= ({Bound("u", upTo)})";
        if (_binaryCopy)
        {
            var keyFields = _integerKey is null ? $", {keyText}" : "";
            var segment = $"SELECT {_columns}{keyFields} FROM {table.QualifiedSql} AS src WHERE ({Filter}){after} ORDER BY {keyList} LIMIT {SegmentRows}";
            return await StreamKeysetAsync(cursor, maxRows, segment, bounds, ct);
        }
        if (!_estimated && limits.Bytes != long.MaxValue) _rowBytes = await EstimateRowBytesAsync(ct);
        _estimated = true;
        var limit = NextLimit(maxRows);
        // Each page is a statement of its own: it checks the columns' types itself (a block-range read checks them once, see BeginTransactionAsync).
        var select = $"SELECT {_columns}, {keyText}, {PostgresCatalog.ColumnsUnchangedSql(table)} FROM {table.QualifiedSql} AS src " +
                     $"WHERE ({Filter}){after} ORDER BY {keyList} LIMIT {limit}";

        var (rows, bytes, lastKey) = await ReadRowsAsync(select, bounds, pk.Count, ct, checksColumns: true);
        if (rows.Count == 0) return null;
        _rowBytes = (double)bytes / rows.Count;
        return KeysetBatch(cursor, BatchRows.Decoded(rows), lastKey!);
    }

    private static Batch KeysetBatch(ResumeCursor cursor, BatchRows rows, string[] lastKey) =>
        new(cursor.Batches, rows, new KeySpan(cursor.LastKey, lastKey), null, new ResumeCursor(cursor.Batches + 1, lastKey, null, null));

    /// <summary>
    /// How many rows one streamed COPY (a segment) reads at most: so many batches that the statement's start (planning,
    /// and the sort of a filtered read) is paid rarely, while its LIMIT still steers the planner away from sorting a whole
    /// huge table when the key's index gives the order.
    /// </summary>
    private long SegmentRows => 50L * limits.Rows;

    /// <summary>
    /// The batch after <paramref name="cursor"/> cut from the open segment, which continues while it is where the cursor
    /// is (the job asks for batches in order) and younger than <see cref="MaxSegmentAgeAsync"/> says; otherwise, or once a
    /// segment read all of its LIMIT, a new one starts after the cursor's key; a read that fails ends its segment, whose
    /// place in the stream is then unknown. One statement per segment instead of one per batch:
    /// a filtered read no longer walks the key's index through every row for each batch's few matches.
    /// </summary>
    private async Task<Batch?> StreamKeysetAsync(ResumeCursor cursor, int maxRows, string segmentSelect,
        List<(string Name, string Value)> bounds, CancellationToken ct)
    {
        if (_segment is { } open && (!SameKey(open.LastKey, cursor.LastKey) || open.Age > _maxSegmentAge))
            await CloseSegmentAsync(quietly: false);
        while (true)
        {
            _segment ??= await OpenSegmentAsync(segmentSelect, bounds, cursor.LastKey, ct);
            BinaryCopyRows rows;
            string[]? lastKey;
            try
            {
                (rows, lastKey) = await _segment.Capture.NextAsync(_segment.Copy, maxRows, Budget, ct);
            }
            catch
            {
                await CloseSegmentAsync();
                throw;
            }
            if (rows.RowCount > 0)
            {
                _segment.LastKey = lastKey;
                _segment.Rows += rows.RowCount;
                return KeysetBatch(cursor, BatchRows.Copied(rows), lastKey!);
            }
            rows.Dispose();
            var readItsLimit = _segment.Rows == SegmentRows;
            await CloseSegmentAsync(quietly: false);
            if (!readItsLimit) return null;
        }
    }

    private static bool SameKey(IReadOnlyList<string>? a, IReadOnlyList<string>? b) =>
        a is null ? b is null : b is not null && a.SequenceEqual(b);

    private async Task<CopySegment> OpenSegmentAsync(string select, List<(string Name, string Value)> bounds, IReadOnlyList<string>? after,
        CancellationToken ct)
    {
        _maxSegmentAge ??= await MaxSegmentAgeAsync(ct);
        try
        {
            await BeginTransactionAsync("BEGIN READ ONLY", wholeTree: false, ct);
            await SessionValues.SetAsync(connection, [.. filter.Parameters, .. bounds], ct);
            var copy = await connection.BeginRawBinaryCopyAsync($"COPY ({select}) TO STDOUT (FORMAT BINARY)", ct);
            var capture = _integerKey is { } key
                ? new BinaryCopyCapture(CopiedFields, 0, _buffers, key)
                : new BinaryCopyCapture(CopiedFields, table.PrimaryKey.Count, _buffers);
            return new CopySegment(copy, capture, after);
        }
        catch
        {
            await EndTransactionAsync();
            throw;
        }
    }

    /// <summary>
    /// A single integer key (smallint, integer, bigint): a streamed read takes each batch's last key from the key column's
    /// binary form, which both binary select lists send as the integer itself. Other keys are added to the select list as text
    /// (which cost the source about 0.2 s of CPU per 2M rows, and the engine a copy of every tuple without them).
    /// </summary>
    private static IntegerCopyKey? IntegerKeyOf(TableSchema table) => table.PrimaryKey is [var key] && key.Kind switch
    {
        ValueKind.Int16 => 2,
        ValueKind.Int32 => 4,
        ValueKind.Int64 => 8,
        _ => 0,
    } is var width and > 0
        ? new IntegerCopyKey(table.Columns.Select(c => c.Name).ToList().IndexOf(key.Name), width, table.TableName, key.Name)
        : null;

    /// <summary>
    /// Ends the open segment and its transaction. One not read to its end is cancelled on the server: disposing it would
    /// read (and drop) every row it still has. Unless <paramref name="quietly"/> (the read failed already, or is over), an
    /// error ending the transaction is thrown: it is what tells the job that its session is gone (a terminated backend).
    /// </summary>
    private async Task CloseSegmentAsync(bool quietly = true)
    {
        if (_segment is not { } segment) return;
        _segment = null;
        try
        {
            if (!segment.Capture.Ended) await segment.Copy.CancelAsync();
            await segment.Copy.DisposeAsync();
        }
        catch (Exception)
        {
            // Best effort, often while a job stops for another reason (which must not be replaced by this one): the
            // statement is gone either way, and a session left unusable fails its next use, which says why.
        }
        await EndTransactionAsync(quietly);
    }

    /// <summary>
    /// How long a segment stays open: a minute, or half the session's <c>statement_timeout</c> when that is shorter, so the
    /// server never cancels a segment that waits for the destinations, and no snapshot is held for long.
    /// </summary>
    private async Task<TimeSpan> MaxSegmentAgeAsync(CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT extract(epoch FROM current_setting('statement_timeout')::interval)::float8", connection);
        var timeout = TimeSpan.FromSeconds((double)(await cmd.ExecuteScalarAsync(ct))!);
        return timeout > TimeSpan.Zero && timeout / 2 < TimeSpan.FromMinutes(1) ? timeout / 2 : TimeSpan.FromMinutes(1);
    }

    /// <summary>One streamed COPY: where its rows go through, the last key it gave (or the key it started after), how many rows so far.</summary>
    private sealed class CopySegment(NpgsqlRawCopyStream copy, BinaryCopyCapture capture, IReadOnlyList<string>? startedAfter)
    {
        private readonly long _opened = System.Diagnostics.Stopwatch.GetTimestamp();

        public NpgsqlRawCopyStream Copy => copy;
        public BinaryCopyCapture Capture => capture;
        public IReadOnlyList<string>? LastKey { get; set; } = startedAfter;
        public long Rows { get; set; }
        public TimeSpan Age => System.Diagnostics.Stopwatch.GetElapsedTime(_opened);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseSegmentAsync();
        await EndTransactionAsync();
    }

    /// <summary>
    /// Starts the one snapshot every block range of this read is taken from. Nothing tells a row of a table without a key
    /// from its updated version, which the update puts elsewhere in the heap (at its end when its page is full): ranges read
    /// in snapshots of their own would miss a row that moved from an unread range to a read one (or beyond the heap's size
    /// when the read began), or copy it twice when it moved the other way. A REPEATABLE READ transaction sees each row the
    /// table held when the read began exactly once, wherever it moves meanwhile. It holds back the source's vacuum while it
    /// lasts, as pg_dump does; waiting for the destinations is not idleness that ends it. Each heap of the table is locked
    /// before the snapshot is taken: a rewrite (a rewriting ALTER TABLE of a partition or child alone, VACUUM FULL, CLUSTER)
    /// is not MVCC-safe, and a snapshot older than it saw the heap empty, or its rows in blocks past the size the job fixed:
    /// a child the job had not reached yet was rewritten, and the job said COMPLETED with half of the rows. Such a rewrite
    /// now waits for the read, as for pg_dump (one lock per heap for the read's time).
    /// </summary>
    private Task BeginSnapshotAsync(CancellationToken ct) => BeginTransactionAsync("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", wholeTree: true, ct);

    /// <summary>
    /// Begins the transaction a binary COPY segment (or a whole block-range read) runs in, locks the table against changes
    /// to its columns until the transaction ends, and then checks they are still the ones the job read
    /// (<see cref="PostgresCatalog.ColumnChangeAsync"/>): COPY data carries no types, and a column read as another type
    /// than it has would arrive wrong, not fail. The lock comes before any snapshot, so a REPEATABLE READ one sees the
    /// columns as they are. Waiting for the destinations inside it is not idleness that ends it. A partition or inheritance
    /// child cannot change a column it has from its parent alone, so for that the parent's lock is enough (one lock, not
    /// one per partition); <paramref name="wholeTree"/> locks every partition and child too.
    /// </summary>
    private async Task BeginTransactionAsync(string begin, bool wholeTree, CancellationToken ct)
    {
        var only = wholeTree ? "" : "ONLY ";
        await using (var cmd = new NpgsqlCommand(
            $"{begin}; SET LOCAL idle_in_transaction_session_timeout = 0; LOCK TABLE {only}{table.QualifiedSql} IN ACCESS SHARE MODE", connection))
            await cmd.ExecuteNonQueryAsync(ct);
        _inTransaction = true;
        if (await PostgresCatalog.ColumnChangeAsync(connection, table, ct) is { } change) throw new InvalidOperationException(change);
    }

    private async Task EndTransactionAsync(bool quietly = true)
    {
        if (!_inTransaction) return;
        _inTransaction = false;
        try
        {
            await using var cmd = new NpgsqlCommand("COMMIT", connection);
            await cmd.ExecuteNonQueryAsync();
        }
        catch (Exception) when (quietly)
        {
            // The segment or the read is over; a session left broken fails its next use, which says why.
        }
    }

    private string Filter => _binaryCopy ? filter.SessionSql : filter.Sql;

    /// <summary>A value's SQL: a parameter, or for a COPY a session value (<see cref="SessionValues"/>).</summary>
    private string Value(string name) => _binaryCopy ? SessionValues.Read(name) : $"@{name}";

    /// <summary>
    /// Runs <paramref name="select"/> and decodes its rows up to the byte budget; after the columns come
    /// <paramref name="keyFields"/> columns of the key's text, and when <paramref name="checksColumns"/> the statement's
    /// <see cref="PostgresCatalog.ColumnsUnchangedSql"/>. Npgsql reads some types as others (a date as its day number,
    /// an integer too), so a row of a column whose type changed is not decoded.
    /// </summary>
    private async Task<(List<object?[]> Rows, long Bytes, string[]? LastKey)> ReadRowsAsync(string select, List<(string Name, string Value)> values,
        int keyFields, CancellationToken ct, bool checksColumns = false)
    {
        await using var cmd = new NpgsqlCommand(select, connection);
        filter.AddParameters(cmd);
        foreach (var (name, value) in values) cmd.Parameters.AddWithValue(name, value);
        if (checksColumns) PostgresCatalog.AddColumnsUnchangedParameters(cmd, table);
        var rows = new List<object?[]>();
        long bytes = 0;
        string[]? lastKey = null;
        var columnsChanged = false;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            var keyOrdinal = _readers.Length + _arrays.Length;
            while ((keyFields == 0 || bytes < limits.Bytes) && await reader.ReadAsync(ct))
            {
                if (rows.Count == 0 && checksColumns && !reader.GetBoolean(keyOrdinal + keyFields))
                {
                    columnsChanged = true;
                    break;
                }
                var row = ReadRow(reader);
                rows.Add(row);
                bytes += BatchLimits.SizeOf(row);
                lastKey ??= new string[keyFields];
                for (var i = 0; i < keyFields; i++) lastKey[i] = reader.GetString(keyOrdinal + i);
            }
        }
        if (columnsChanged)
            throw new InvalidOperationException(await PostgresCatalog.ColumnChangeAsync(connection, table, ct) ??
                $"The columns of {table.TableName} changed since the job read them (and changed back). Start a new backfill instead.");
        return (rows, bytes, lastKey);
    }

    /// <summary>Runs <paramref name="select"/> (no key columns) as a binary COPY and keeps all of its output undecoded.</summary>
    private async Task<BatchRows> CopyRowsAsync(string select, CancellationToken ct)
    {
        await SessionValues.SetAsync(connection, filter.Parameters, ct);
        await using var copy = await connection.BeginRawBinaryCopyAsync($"COPY ({select}) TO STDOUT (FORMAT BINARY)", ct);
        var (rows, _) = await new BinaryCopyCapture(CopiedFields, 0, _buffers).NextAsync(copy, int.MaxValue, long.MaxValue, ct);
        return BatchRows.Copied(rows);
    }

    /// <summary>The fields a binary read keeps: the columns, and for a stage copy the typed arrays' shape checks, which the DuckDB stage checks before it appends.</summary>
    private int CopiedFields => table.Columns.Count + (format == BatchFormat.StageCopy ? _arrays.Length : 0);

    /// <summary>As many rows as fit the byte budget at the width known so far, within the row limit.</summary>
    private int NextLimit(int maxRows) => _rowBytes is { } width ? (int)Math.Clamp(Budget / width, 1, maxRows) : maxRows;

    /// <summary>
    /// Where a keyset batch ends: <c>BatchMaxBytes</c> of decoded values or of binary COPY data passed on; half of it in
    /// binary COPY data for a DuckDB stage, which holds a batch's values about twice over while it converts and encodes
    /// them (as decoded rows held text twice, in UTF-16), so a batch has the rows a decoded one would have.
    /// </summary>
    private long Budget => format == BatchFormat.StageCopy ? limits.Bytes / 2 : limits.Bytes;

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
        if (_heaps is null)
        {
            await BeginSnapshotAsync(ct);
            _heaps = await HeapLayout.ReadAsync(connection, table, cursor.Relations, limits, ct);
        }
        var step = cursor.BlocksPerBatch ?? _heaps.BlocksPerBatch;
        var position = cursor.NextBlock ?? 0;
        if (cursor.Filenodes is { } stored) _heaps.CheckNotRewritten(table, stored, position, untilBlock);
        BatchRows rows = BatchRows.Decoded([]);
        while (rows.RowCount == 0 && (int)(position >> 32) < _heaps.Heaps.Count && position < (untilBlock ?? long.MaxValue))
        {
            var heap = _heaps.Heaps[(int)(position >> 32)];
            var start = position & uint.MaxValue;
            if (start >= heap.Blocks)
            {
                position = ((position >> 32) + 1) << 32;
                continue;
            }
            // Ranges are never clamped to the heap's end, so a resumed job sees exactly the same ranges; only to the
            // chunk's end, which is fixed too, so that no block is read by two chunks.
            var end = start + step;
            if (untilBlock is { } until && until >> 32 == position >> 32) end = Math.Min(end, until & uint.MaxValue);
            var select = $"SELECT {_columns} FROM ONLY {heap.QualifiedSql} AS src " +
                $"WHERE ctid >= '({start},0)'::tid AND ctid < '({end},0)'::tid AND ({Filter})";
            // A block range is the resume position, so it is read whole whatever its bytes.
            rows = _binaryCopy ? await CopyRowsAsync(select, ct) : BatchRows.Decoded((await ReadRowsAsync(select, [], 0, ct)).Rows);
            // A range reaching past block 2^32 - 1 (a heap of 32 TB) ends with the heap, never in the next heap's bits.
            var next = (position & ~(long)uint.MaxValue) | Math.Min(end, uint.MaxValue);
            if (rows.RowCount == 0) position = next;
            else return new Batch(cursor.Batches, rows, null, next, new ResumeCursor(cursor.Batches + 1, null, next, step, _heaps.Oids, _heaps.Filenodes));
        }
        return null;
    }

    private object?[] ReadRow(NpgsqlDataReader reader)
    {
        for (var i = 0; i < _arrays.Length; i++)
        {
            if (reader.IsDBNull(_readers.Length + i)) continue;
            throw new ValueRejectedException(table.TableName, _arrays[i].Name, reader.GetString(_readers.Length + i), ColumnValueReader.ShapeRefusal);
        }
        var row = new object?[_readers.Length];
        for (var i = 0; i < row.Length; i++) row[i] = _readers[i](reader, i);
        return row;
    }

    /// <param name="Filenode">The file its blocks are in, <c>pg_relation_filenode</c>: a rewrite (VACUUM FULL, CLUSTER, TRUNCATE, a
    /// rewriting ALTER TABLE) puts them in a new one.</param>
    private sealed record Heap(uint Oid, string QualifiedSql, long Blocks, uint Filenode);

    /// <summary>The heaps that hold the table's rows (see <see cref="ReadBlocksAsync"/>), in reading order, with their sizes now.</summary>
    public static async Task<IReadOnlyList<(uint Oid, long Blocks, uint Filenode)>> HeapsAsync(NpgsqlConnection connection, TableSchema table,
        CancellationToken ct) =>
        (await HeapLayout.ReadAsync(connection, table, null, new BatchLimits(1, long.MaxValue), ct)).Heaps.Select(h => (h.Oid, h.Blocks, h.Filenode)).ToList();

    /// <summary>
    /// The heaps holding the table's rows, their sizes now, and how many blocks hold about one batch: <c>BatchSize</c> rows
    /// or <c>BatchMaxBytes</c> of decoded values (the stored bytes per block, TOAST included, doubled for UTF-16 text),
    /// whichever is fewer blocks. A block is the least a range can hold: a block of many huge TOASTed rows can exceed
    /// the byte budget.
    /// </summary>
    private sealed record HeapLayout(IReadOnlyList<Heap> Heaps, long BlocksPerBatch)
    {
        public IReadOnlyList<uint> Oids { get; } = Heaps.Select(h => h.Oid).ToList();

        public IReadOnlyList<uint> Filenodes { get; } = Heaps.Select(h => h.Filenode).ToList();

        /// <summary>
        /// A read that starts (or ends) inside a heap shares that heap with a read in another snapshot: the job's earlier
        /// run, or the chunk next to it. A rewrite since the blocks were fixed moved rows between the two reads' blocks,
        /// so the rest of the read would miss some (those moved into blocks already read) and copy others again.
        /// </summary>
        public void CheckNotRewritten(TableSchema table, IReadOnlyList<uint> stored, long from, long? until)
        {
            foreach (var position in until is { } end ? [from, end] : new[] { from })
            {
                var index = (int)(position >> 32);
                if ((position & uint.MaxValue) == 0 || index >= Heaps.Count || index >= stored.Count) continue;
                var heap = Heaps[index];
                // A heap dropped since (no name) holds no rows to read.
                if (heap.QualifiedSql.Length == 0 || heap.Filenode == stored[index]) continue;
                var what = heap.Oid == table.Oid ? table.TableName : $"{heap.QualifiedSql}, part of {table.TableName},";
                throw new InvalidOperationException($"{what} was rewritten (VACUUM FULL, CLUSTER, TRUNCATE " +
                    "or an ALTER TABLE that rewrites it) since the job fixed its block ranges, so rows moved between the blocks " +
                    "already read and those still to read: reading on would miss some and copy others twice. Start a new backfill instead.");
            }
        }

        public static async Task<HeapLayout> ReadAsync(NpgsqlConnection connection, TableSchema table, IReadOnlyList<uint>? fixedOids,
            BatchLimits limits, CancellationToken ct)
        {
            await using var cmd = new NpgsqlCommand("""
                WITH RECURSIVE tree(oid) AS (
                    SELECT @oid::oid
                    UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
                SELECT c.oid, n.nspname, c.relname, c.relkind::text,
                       pg_relation_size(c.oid) / current_setting('block_size')::bigint, c.relpages::bigint, GREATEST(c.reltuples, 0)::float8,
                       pg_table_size(c.oid), pg_relation_filenode(c.oid)
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
                    heaps.Add(new Heap(reader.GetFieldValue<uint>(0), name, reader.GetInt64(4), reader.GetFieldValue<uint>(8)));
                    pages += reader.GetInt64(5);
                    tuples += reader.GetDouble(6);
                    if (reader.GetInt64(5) > 0) stored += reader.GetInt64(7);
                }
            }
            // A resumed job reads the heaps it started with, in the same order; a heap dropped since holds no rows to copy.
            // None of them left is another table under the name (dropped and made again, or renamed onto it): read as
            // dropped heaps, it would end the job with the rest of the rows never read.
            if (fixedOids is { Count: > 0 } && !fixedOids.Any(oid => heaps.Any(h => h.Oid == oid)))
                throw new InvalidOperationException($"{table.TableName} is not the table this job began reading: none of the tables " +
                    "that held its rows then (the table itself, or its partitions) is part of it now (dropped and made again, or " +
                    "another table renamed to its name). Start a new backfill instead.");
            if (fixedOids is not null)
                heaps = fixedOids.Select(oid => heaps.FirstOrDefault(h => h.Oid == oid) ?? new Heap(oid, "", 0, 0)).ToList();
            var rowsPerBlock = pages > 0 && tuples > 0 ? tuples / pages : 100;
            var byRows = limits.Rows / Math.Max(1.0, rowsPerBlock);
            // Analyzed heaps only (relpages > 0), like the row estimate; 2x: text decodes to UTF-16.
            var byBytes = pages > 0 && stored > 0 ? limits.Bytes / (2.0 * stored / pages) : double.MaxValue;
            return new HeapLayout(heaps, Math.Max(1, (long)Math.Min(byRows, byBytes)));
        }
    }
}
