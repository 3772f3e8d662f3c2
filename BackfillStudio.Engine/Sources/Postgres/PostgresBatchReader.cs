using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Jobs;
using Npgsql;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>
/// Reads a table's matching rows in batches: keyset pagination on the primary key (composite keys too),
/// or heap-block (<c>ctid</c>) ranges for tables without one. Never OFFSET.
/// </summary>
public sealed class PostgresBatchReader(NpgsqlConnection connection, TableSchema table, FilterPredicate filter, int batchSize)
{
    private readonly Func<NpgsqlDataReader, int, object?>[] _readers = table.Columns.Select(ColumnValueReader.For).ToArray();
    private readonly string _columns = string.Join(", ", table.Columns.Select(ColumnValueReader.SelectExpression));
    private BlockLayout? _blocks;

    public bool UsesKeyset => table.PrimaryKey.Count > 0;

    public async Task<long> CountAsync(CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"SELECT count(*) FROM {table.QualifiedSql} WHERE {filter.Sql}", connection);
        filter.AddParameters(cmd);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Reads the batch that follows <paramref name="cursor"/>; null when no matching rows remain.</summary>
    public Task<SourceBatch?> ReadAsync(ResumeCursor cursor, CancellationToken ct) =>
        UsesKeyset ? ReadKeysetAsync(cursor, ct) : ReadBlocksAsync(cursor, ct);

    private async Task<SourceBatch?> ReadKeysetAsync(ResumeCursor cursor, CancellationToken ct)
    {
        var pk = table.PrimaryKey;
        // Table-qualified, because ORDER BY would otherwise resolve a name to a (text-cast) output column.
        var keyList = string.Join(", ", pk.Select(c => $"src.{Sql.Ident(c.Name)}"));
        var keyText = string.Join(", ", pk.Select((c, i) => $"src.{Sql.Ident(c.Name)}::text AS backfill_key_{i}"));
        var after = cursor.LastKey is null
            ? ""
            : $" AND ({keyList}) > ({string.Join(", ", pk.Select((c, i) => $"CAST(@k{i} AS {c.DataType})"))})";
        await using var cmd = new NpgsqlCommand(
            $"SELECT {_columns}, {keyText} FROM {table.QualifiedSql} AS src WHERE ({filter.Sql}){after} ORDER BY {keyList} LIMIT @limit",
            connection);
        filter.AddParameters(cmd);
        for (var i = 0; cursor.LastKey is not null && i < pk.Count; i++) cmd.Parameters.AddWithValue($"k{i}", cursor.LastKey[i]);
        cmd.Parameters.AddWithValue("limit", batchSize);

        var rows = new List<object?[]>(batchSize);
        string[]? lastKey = null;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            var width = _readers.Length;
            while (await reader.ReadAsync(ct))
            {
                rows.Add(ReadRow(reader));
                lastKey ??= new string[pk.Count];
                for (var i = 0; i < pk.Count; i++) lastKey[i] = reader.GetString(width + i);
            }
        }
        if (rows.Count == 0) return null;
        return new SourceBatch(cursor.Batches, rows, cursor, new ResumeCursor(cursor.Batches + 1, lastKey, null, null));
    }

    private async Task<SourceBatch?> ReadBlocksAsync(ResumeCursor cursor, CancellationToken ct)
    {
        _blocks ??= await BlockLayout.ReadAsync(connection, table, batchSize, ct);
        var step = cursor.BlocksPerBatch ?? _blocks.BlocksPerBatch;
        var start = cursor.NextBlock ?? 0;
        var rows = new List<object?[]>();
        while (rows.Count == 0 && start < _blocks.TotalBlocks)
        {
            // Ranges are never clamped to the table end, so a resumed job sees exactly the same ranges.
            var end = start + step;
            await using var cmd = new NpgsqlCommand($"""
                SELECT {_columns} FROM {table.QualifiedSql}
                WHERE ctid >= ('(' || @b0 || ',0)')::tid AND ctid < ('(' || @b1 || ',0)')::tid AND ({filter.Sql})
                """, connection);
            filter.AddParameters(cmd);
            cmd.Parameters.AddWithValue("b0", start);
            cmd.Parameters.AddWithValue("b1", end);
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct)) rows.Add(ReadRow(reader));
            }
            if (rows.Count == 0) start = end;
            else return new SourceBatch(cursor.Batches, rows, cursor with { NextBlock = start, BlocksPerBatch = step },
                new ResumeCursor(cursor.Batches + 1, null, end, step));
        }
        return null;
    }

    private object?[] ReadRow(NpgsqlDataReader reader)
    {
        var row = new object?[_readers.Length];
        for (var i = 0; i < row.Length; i++) row[i] = _readers[i](reader, i);
        return row;
    }

    /// <summary>The heap's size when the job starts and how many blocks hold about one batch of rows.</summary>
    private sealed record BlockLayout(long TotalBlocks, long BlocksPerBatch)
    {
        public static async Task<BlockLayout> ReadAsync(NpgsqlConnection connection, TableSchema table, int batchSize, CancellationToken ct)
        {
            await using var cmd = new NpgsqlCommand("""
                SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint,
                       CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 100 END
                FROM pg_class c WHERE c.oid = @oid
                """, connection);
            cmd.Parameters.Add(new NpgsqlParameter("oid", NpgsqlTypes.NpgsqlDbType.Oid) { Value = table.Oid });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            var total = reader.GetInt64(0);
            var rowsPerBlock = Math.Max(1.0, reader.GetDouble(1));
            return new BlockLayout(total, Math.Max(1, (long)(batchSize / rowsPerBlock)));
        }
    }
}
