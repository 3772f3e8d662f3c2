using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Staging;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;

namespace BackfillStudio.Engine.Destinations.DuckDb;

/// <summary>
/// Writes into a DuckDB database file: each batch is appended to a per-job temporary table, then
/// merged into the target with <c>INSERT OR REPLACE</c> on the primary key (tables without one record
/// the batch in <c>_backfill_progress</c> in the same transaction), after passing the job's <see cref="ClaimFence"/>.
/// The job's connection is closed when
/// it ends, and DuckDB closes the file with the last connection, so users can open it right away.
/// </summary>
public sealed class DuckDbDestinationWriter(DuckDbDestinationSettings settings, WriteTarget target, string memoryLimit, ILogger<DuckDbDestinationWriter> logger)
    : IDestinationWriter
{
    private const string ProgressTable = "_backfill_progress";

    private readonly string _stage = $"backfill_stage_{target.JobId}";
    private readonly string _stageColumns = DuckDbTypes.StageColumns(target.Table.Columns);
    private DuckDBConnection? _connection;

    private string Schema => Sql.Ident(settings.Schema);
    private string TargetSql => $"{Schema}.{Sql.Ident(target.TargetTable)}";
    private bool HasKey => target.Table.PrimaryKey.Count > 0;
    private IReadOnlyList<SourceColumn> Columns => target.Table.Columns;

    public async Task PrepareAsync(CancellationToken ct)
    {
        _connection = Connect();
        await Locked(() =>
        {
            var columns = string.Join(", ", Columns.Select(c => $"{Sql.Ident(c.Name)} {DuckDbTypes.TargetType(c)}"));
            var key = HasKey ? $", PRIMARY KEY ({string.Join(", ", target.Table.PrimaryKey.Select(c => Sql.Ident(c.Name)))})" : "";
            Execute($"CREATE SCHEMA IF NOT EXISTS {Schema}");
            Execute($"CREATE TABLE IF NOT EXISTS {TargetSql} ({columns}{key})");
            if (!HasKey)
                Execute($"CREATE TABLE IF NOT EXISTS {Schema}.{ProgressTable} (job_id INTEGER, target_table VARCHAR, next_block BIGINT, PRIMARY KEY (job_id, target_table))");
            Execute($"CREATE TABLE IF NOT EXISTS {Schema}.{ClaimFence.Table} (job_id INTEGER, target_table VARCHAR, epoch BIGINT, PRIMARY KEY (job_id, target_table))");
            Claim();
            var targetTypes = MatchTargetColumns(columns);
            MatchTargetKey();
            RefuseLooserKey(targetTypes);
        }, ct);
    }

    /// <summary>
    /// Fails when a target made before has another primary key than the source's (made by hand, or by a version that took
    /// a key's INCLUDE columns for key columns): INSERT OR REPLACE matches rows on the target's key, so rows the source
    /// tells apart would replace each other, or a row whose other columns changed would be added again.
    /// </summary>
    private void MatchTargetKey()
    {
        if (!HasKey) return;
        using var cmd = _connection!.CreateCommand();
        cmd.CommandText = """
            SELECT constraint_column_names FROM duckdb_constraints()
            WHERE database_name = current_database() AND lower(schema_name) = lower($schema) AND lower(table_name) = lower($table)
              AND constraint_type = 'PRIMARY KEY'
            """;
        cmd.Parameters.Add(new DuckDBParameter("schema", settings.Schema));
        cmd.Parameters.Add(new DuckDBParameter("table", target.TargetTable));
        var existing = cmd.ExecuteScalar() is List<string> names ? names : [];
        var wanted = target.Table.PrimaryKey.Select(c => c.Name).ToList();
        if (existing.Order(StringComparer.OrdinalIgnoreCase).SequenceEqual(wanted.Order(StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase)) return;
        var has = existing.Count == 0 ? "has no primary key" : $"has the primary key ({string.Join(", ", existing)})";
        throw new InvalidOperationException($"{settings.Schema}.{target.TargetTable} in the DuckDB file {has}, but the source's is " +
            $"({string.Join(", ", wanted)}): rows are replaced by their key, so rows the source tells apart would replace each other " +
            "or be added twice. Give the target the source's key, or drop or rename it and start the backfill again.");
    }

    /// <summary>Texts PostgreSQL's deterministic collations keep apart that a DuckDB collation may find equal, and how a message shows them.</summary>
    private static readonly (string A, string B, string Shown)[] TextsKeptApart =
    [
        ("K", "k", "'K' and 'k'"),
        ("é", "e", "'é' and 'e'"),
        ("\u00e9", "e\u0301", "'é' and 'e' followed by U+0301"),
    ];

    /// <summary>
    /// Fails when a text key column of a target made before has a collation (<c>VARCHAR COLLATE NOCASE</c>) that finds
    /// texts equal which the source keeps apart: INSERT OR REPLACE matched the source's 'k7' to the row of 'K7', and the job
    /// said COMPLETED with half of the rows. DuckDB's catalog shows no column's collation, so the key's own comparison is
    /// asked: pairs of texts are compared as values of the column's type (a UNION with it gives them its collation).
    /// </summary>
    private void RefuseLooserKey(IReadOnlyDictionary<string, string> targetTypes)
    {
        var pairs = string.Join(", ", TextsKeptApart.Select((p, i) => $"({Sql.Literal(p.A)}, {Sql.Literal(p.B)}, {i})"));
        foreach (var column in target.Table.PrimaryKey.Where(c => !c.HasLooseEquality && targetTypes.GetValueOrDefault(c.Name) == "VARCHAR"))
        {
            var name = Sql.Ident(column.Name);
            using var cmd = _connection!.CreateCommand();
            cmd.CommandText = $"""
                WITH probe AS (SELECT {name} AS a, {name} AS b, -1 AS n FROM {TargetSql} WHERE false UNION ALL SELECT * FROM (VALUES {pairs}) p(a, b, n))
                SELECT min(n) FROM probe WHERE a = b
                """;
            if (cmd.ExecuteScalar() is not int first) continue;
            throw new InvalidOperationException(
                $"{settings.Schema}.{target.TargetTable} in the DuckDB file compares its key column {column.Name} under a collation that finds " +
                $"{TextsKeptApart[first].Shown} equal, which the source keeps apart: their rows would replace each other. Declare " +
                $"{column.Name} without a collation, or drop or rename the table and the job creates it with the source's types.");
        }
    }

    /// <summary>
    /// Adds the columns a target made before lacks (the source table gained them), and fails when it has one whose type
    /// does not hold the job's values (<see cref="ExistingColumnTypes"/>): DuckDB's INSERT would cast every value to it,
    /// a DECIMAL(10,4) 12.3456 into DECIMAL(10,2) as 12.35. Types are compared as DuckDB spells them, from an empty table
    /// declared with <paramref name="columns"/> as the target would have been. Returns the target's columns and types as
    /// they were before.
    /// </summary>
    private Dictionary<string, string> MatchTargetColumns(string columns)
    {
        var declared = $"backfill_declared_{target.JobId}";
        Execute($"CREATE OR REPLACE TEMP TABLE {declared} ({columns})");
        var declaredTypes = ColumnTypes("temp", "main", declared);
        Execute($"DROP TABLE temp.main.{declared}");
        var existing = ColumnTypes(null, settings.Schema, target.TargetTable).ToDictionary(c => c.Name, c => c.Type, StringComparer.OrdinalIgnoreCase);
        var table = $"{settings.Schema}.{target.TargetTable} in the DuckDB file";
        foreach (var missing in ExistingColumnTypes.Missing(table, declaredTypes, existing).Select(name => Columns.Single(c => c.Name == name)))
            Execute($"ALTER TABLE {TargetSql} ADD COLUMN {Sql.Ident(missing.Name)} {DuckDbTypes.TargetType(missing)}");
        return existing;
    }

    /// <summary>A table's columns and their types as DuckDB spells them, in order; names compare without case, as DuckDB's do.</summary>
    private List<(string Name, string Type)> ColumnTypes(string? database, string schema, string table)
    {
        using var cmd = _connection!.CreateCommand();
        cmd.CommandText = """
            SELECT column_name, data_type FROM duckdb_columns()
            WHERE database_name = coalesce($database, current_database()) AND lower(schema_name) = lower($schema) AND lower(table_name) = lower($table)
            ORDER BY column_index
            """;
        cmd.Parameters.Add(new DuckDBParameter("database", database));
        cmd.Parameters.Add(new DuckDBParameter("schema", schema));
        cmd.Parameters.Add(new DuckDBParameter("table", table));
        using var reader = cmd.ExecuteReader();
        var columns = new List<(string, string)>();
        while (reader.Read()) columns.Add((reader.GetString(0), reader.GetString(1)));
        return columns;
    }

    /// <summary>
    /// An empty staging table for the next batch. Replaced rather than emptied: DuckDB frees a temporary table's blocks
    /// when it is dropped, while deleted rows keep theirs (with 1 MB values, about 100 MiB less peak memory over 300 rows).
    /// </summary>
    private void NewStage() =>
        Execute($"CREATE OR REPLACE TEMP TABLE {_stage} ({_stageColumns})");

    /// <summary>Records the job's source table as the target's, or fails when another source table filled it.</summary>
    private void Claim()
    {
        var registry = $"{Schema}.{TargetOwnership.Table}";
        Execute($"CREATE TABLE IF NOT EXISTS {registry} (target_table VARCHAR PRIMARY KEY, source VARCHAR NOT NULL)");
        using var cmd = _connection!.CreateCommand();
        cmd.CommandText = $"INSERT OR IGNORE INTO {registry} VALUES ($target, $source); SELECT source FROM {registry} WHERE target_table = $target";
        // DuckDB identifiers are case-insensitive: Items and items are one table.
        cmd.Parameters.Add(new DuckDBParameter("target", target.TargetTable.ToLowerInvariant()));
        cmd.Parameters.Add(new DuckDBParameter("source", target.Source));
        var owner = (string)cmd.ExecuteScalar()!;
        if (owner != target.Source) throw TargetOwnership.Conflict($"{settings.Schema}.{target.TargetTable}", owner, target.Source);
    }

    public bool TakesStageCopy => true;

    public void CheckValues(Batch batch) => DuckDbTypes.Check(target.Table, batch);

    public Task WriteAsync(Batch batch, CancellationToken ct) => Locked(() =>
    {
        NewStage();
        DuckDbRowAppender.Append(_connection!, "temp", "main", _stage, Columns, batch);
        Execute("BEGIN TRANSACTION");
        try
        {
            PassFence();
            if (!HasKey && AlreadyWritten(batch))
            {
                Execute("ROLLBACK");
                return;
            }
            var names = string.Join(", ", Columns.Select(c => Sql.Ident(c.Name)));
            var converted = string.Join(", ", Columns.Select(DuckDbTypes.Convert));
            // A plain INSERT is twice as fast as INSERT OR REPLACE; it is safe when no key of the batch can be there.
            var replace = HasKey && (!ProbeIsTrusted || LeadingKeyRangeHasRows(batch)) ? "OR REPLACE " : "";
            Execute($"INSERT {replace}INTO {TargetSql} ({names}) SELECT {converted} FROM temp.main.{_stage}");
            if (!HasKey)
                Execute($"INSERT OR REPLACE INTO {Schema}.{ProgressTable} VALUES ({target.JobId}, {Sql.Literal(target.TargetTable)}, {batch.BlocksEnd})");
            Execute("COMMIT");
        }
        catch (Exception e)
        {
            RollBack();
            if (e is DuckDBException && e.Message.Contains("Out of Memory Error", StringComparison.Ordinal)) throw OutOfMemory(batch, e);
            throw;
        }
        ReleaseCacheWhenLarge();
    }, ct);

    /// <summary>How many bytes of the table's blocks DuckDB may keep cached before the writer closes and reopens the file.</summary>
    private const long CacheReleaseBytes = 16L * 1024 * 1024;

    /// <summary>
    /// Closes and reopens the file once DuckDB keeps more than <see cref="CacheReleaseBytes"/> of the table's blocks
    /// (<c>duckdb_memory()</c>'s <c>BASE_TABLE</c>). It keeps every block it wrote cached up to its memory limit, so the
    /// engine's memory grew with the table: peak RSS 299, 342 and 404 MiB for tables of 500k, 2M and 4M rows, and 301, 305
    /// and 299 MiB with the reopen. A reopen costs about 0.14 s, the close's checkpoint included (DuckDB alone, 4M rows:
    /// every 500k rows, 2.5 % longer). Other memory (the primary key's index, the stage) is not counted: it stays whatever
    /// the file does. A reopen leaves no gap for another claim's write to fall into unseen: each batch reads the fence row
    /// anew (<see cref="PassFence"/>).
    /// </summary>
    private void ReleaseCacheWhenLarge()
    {
        long cached;
        using (var cmd = _connection!.CreateCommand())
        {
            cmd.CommandText = "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory() WHERE tag = 'BASE_TABLE'";
            cached = (long)cmd.ExecuteScalar()!;
        }
        if (cached < CacheReleaseBytes) return;
        _connection.Dispose();
        _connection = Connect();
        logger.LogInformation("Job {JobId}: reopened DuckDB file {Path} to release the {CachedMiB} MiB of table blocks it held", target.JobId, settings.Path, cached >> 20);
    }

    /// <summary>Opens the file with the job's memory limit and one thread (<see cref="DuckDbStage.Configure"/>).</summary>
    private DuckDBConnection Connect()
    {
        var connection = Open(settings.Path);
        try
        {
            DuckDbStage.Configure(connection, memoryLimit);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// DuckDB's own out-of-memory error (after which it cannot even roll back, "FATAL Error: Failed to rollback") says
    /// nothing of why: a table scan or checkpoint holds up to 2,048 values of a column in memory at once, so wide values
    /// need a higher limit, and the table's rows so far are what the next attempt continues from.
    /// </summary>
    private InvalidOperationException OutOfMemory(Batch batch, Exception e)
    {
        var rowMiB = batch.ApproximateBytes / (double)Math.Max(1, batch.RowCount) / (1024 * 1024);
        return new InvalidOperationException(
            $"DuckDB ran out of its memory limit (Backfill:DuckDbMemoryLimit = {memoryLimit}) writing batch {batch.Sequence} of " +
            $"{target.Table.TableName} into {settings.Schema}.{target.TargetTable} ({batch.RowCount} rows, about {rowMiB:0.##} MiB each). " +
            "DuckDB holds up to 2,048 values of a column in memory at once when it checkpoints or scans a table, so rows this wide need " +
            $"up to about {Math.Ceiling(2048 * rowMiB * 1.25 + 64):N0} MiB: raise Backfill:DuckDbMemoryLimit and resume the job; " +
            $"the batches before this one are in the file. DuckDB said: {e.Message.Split('\n').First(l => l.Contains("Out of Memory Error", StringComparison.Ordinal)).Trim()}", e);
    }

    /// <summary>
    /// The range probe compares keys in DuckDB's order, which is PostgreSQL's only for integers: text under a
    /// collation, enums (text here), numerics (DECIMAL or VARCHAR) and dates or timestamps given as text may sort
    /// differently, and a wrong "no rows" would make the plain INSERT fail on a key the target holds.
    /// </summary>
    private bool ProbeIsTrusted => target.Table.PrimaryKey[0].Kind is ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64;

    /// <summary>
    /// Whether the target has rows whose leading key column lies in the batch's range: a superset of
    /// "some key of the batch exists" that DuckDB answers from row-group min/max statistics.
    /// </summary>
    private bool LeadingKeyRangeHasRows(Batch batch)
    {
        var key = target.Table.PrimaryKey[0];
        var type = DuckDbTypes.TargetType(key);
        using var cmd = _connection!.CreateCommand();
        // With a composite key the previous batch may end inside the same leading value, hence >=.
        var after = target.Table.PrimaryKey.Count == 1 ? ">" : ">=";
        var lower = batch.Keys!.After is null ? "" : $" AND {Sql.Ident(key.Name)} {after} CAST($low AS {type})";
        cmd.CommandText = $"SELECT EXISTS (SELECT 1 FROM {TargetSql} WHERE {Sql.Ident(key.Name)} <= CAST($high AS {type}){lower})";
        cmd.Parameters.Add(new DuckDBParameter("high", batch.Keys!.Last[0]));
        if (batch.Keys!.After is { } from) cmd.Parameters.Add(new DuckDBParameter("low", from[0]));
        return (bool)cmd.ExecuteScalar()!;
    }

    /// <summary>
    /// Raises the job's fence to this claim in the batch's transaction, or refuses when a newer claim wrote here. A fence
    /// that already holds this claim is left as it is (3 ms a batch): the batch's transaction runs under the file's lock
    /// (<see cref="DuckDbFileLocks"/>) and no other process opens the file, so no other claim's write falls between.
    /// </summary>
    private void PassFence()
    {
        var fence = $"{Schema}.{ClaimFence.Table}";
        var key = $"job_id = {target.JobId} AND target_table = {Sql.Literal(target.TargetTable)}";
        using var cmd = _connection!.CreateCommand();
        cmd.CommandText = $"SELECT epoch FROM {fence} WHERE {key}";
        var epoch = cmd.ExecuteScalar() as long?;
        if (epoch > target.Epoch) throw new StaleClaimException($"Table {settings.Schema}.{target.TargetTable}", target);
        if (epoch != target.Epoch) Execute($"INSERT OR REPLACE INTO {fence} VALUES ({target.JobId}, {Sql.Literal(target.TargetTable)}, {target.Epoch})");
    }

    private bool AlreadyWritten(Batch batch)
    {
        using var cmd = _connection!.CreateCommand();
        cmd.CommandText = $"SELECT next_block FROM {Schema}.{ProgressTable} WHERE job_id = {target.JobId} AND target_table = {Sql.Literal(target.TargetTable)}";
        return cmd.ExecuteScalar() is long written && written >= batch.BlocksEnd;
    }

    /// <summary>Rolls the batch back; when that fails too (DuckDB invalidates a database after a fatal error), the batch's own error is the one reported.</summary>
    private void RollBack()
    {
        try
        {
            Execute("ROLLBACK");
        }
        catch (DuckDBException)
        {
            // The database is unusable; the job fails (or retries) with the error that caused it.
        }
    }

    private Task Locked(Action action, CancellationToken ct) => DuckDbFileLocks.RunAsync(settings.Path, action, ct);

    private void Execute(string sql) => DuckDbStage.Execute(_connection!, sql);

    /// <summary>
    /// Opens the file for the job. A DuckDB file is written by one process at a time: while another engine process holds
    /// it, the open fails with an <see cref="IOException"/>, so the job is requeued and tries again later.
    /// </summary>
    private static DuckDBConnection Open(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        var connection = new DuckDBConnection(DuckDbDestinationSettings.ConnectionString(path));
        try
        {
            connection.Open();
            return connection;
        }
        catch (DuckDBException e) when (e.Message.Contains("Could not set lock on file", StringComparison.Ordinal))
        {
            connection.Dispose();
            throw new IOException($"The DuckDB file is open in another process (another engine on this host writes it); the job waits its turn. {e.Message}", e);
        }
    }

    public ValueTask DisposeAsync()
    {
        _connection?.Dispose();
        return ValueTask.CompletedTask;
    }

    public static Task<string> TestAsync(DuckDbDestinationSettings settings)
    {
        using var connection = Open(settings.Path);
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT 'DuckDB ' || version()";
        return Task.FromResult((string)cmd.ExecuteScalar()!);
    }
}
