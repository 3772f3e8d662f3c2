using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Staging;
using Npgsql;
using NpgsqlTypes;

namespace BackfillStudio.Engine.Destinations.Postgres;

/// <summary>
/// Loads each batch with binary COPY, in one transaction: straight into the target when the batch's
/// keys cannot be there yet, otherwise into a per-job temporary staging table that is then merged into
/// the target with <c>INSERT ... ON CONFLICT</c> on the primary key. Tables without
/// a primary key record the batch in <c>_backfill_progress</c> in the same transaction, so a batch
/// that was committed but not yet checkpointed is skipped, not duplicated, when the job resumes.
/// </summary>
public sealed class PostgresDestinationWriter(PostgresDestinationSettings settings, WriteTarget target) : IDestinationWriter
{
    private const string Stage = "backfill_stage";
    private const string ProgressTable = "_backfill_progress";

    private readonly IReadOnlyList<SourceColumn> _columns = target.Table.Columns;
    private readonly NpgsqlDbType[] _dbTypes = target.Table.Columns.Select(PostgresTypes.DbType).ToArray();
    private readonly bool _copiesDirectly = target.Table.Columns.All(PostgresTypes.CopiesDirectly);
    private NpgsqlConnection? _connection;
    private string _mergeSql = "";
    private string _copyIntoTarget = "";

    private string Schema => Sql.Ident(settings.Schema);
    private string TargetSql => $"{Schema}.{Sql.Ident(target.TargetTable)}";
    private bool HasKey => target.Table.PrimaryKey.Count > 0;

    public async Task PrepareAsync(CancellationToken ct)
    {
        _connection = new NpgsqlConnection(settings.Connection.ConnectionString($"BackfillStudio job {target.JobId}"));
        await _connection.OpenAsync(ct);
        var columns = string.Join(", ", _columns.Select(c => $"{Sql.Ident(c.Name)} {PostgresTypes.TargetType(c)}"));
        var key = HasKey ? $", PRIMARY KEY ({KeyList})" : "";
        // Concurrent "IF NOT EXISTS" DDL can still collide in the catalog; jobs writing into one schema take turns.
        await using var ddl = await _connection.BeginTransactionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext(@name))", _connection))
        {
            lockCmd.Parameters.AddWithValue("name", $"backfillstudio:ddl:{settings.Schema}");
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        await ExecuteAsync($"CREATE SCHEMA IF NOT EXISTS {Schema}", ct);
        await ExecuteAsync($"CREATE TABLE IF NOT EXISTS {TargetSql} ({columns}{key})", ct);
        foreach (var c in _columns)
            await ExecuteAsync($"ALTER TABLE {TargetSql} ADD COLUMN IF NOT EXISTS {Sql.Ident(c.Name)} {PostgresTypes.TargetType(c)}", ct);
        if (!HasKey)
        {
            await ExecuteAsync($"""
                CREATE TABLE IF NOT EXISTS {Schema}.{ProgressTable} (
                    job_id integer NOT NULL, target_table text NOT NULL, next_block bigint NOT NULL,
                    PRIMARY KEY (job_id, target_table))
                """, ct);
        }
        await ddl.CommitAsync(ct);
        var stageColumns = string.Join(", ", _columns.Select(c => $"{Sql.Ident(c.Name)} {PostgresTypes.StageType(c)}"));
        await ExecuteAsync($"CREATE TEMP TABLE IF NOT EXISTS {Stage} ({stageColumns})", ct);

        var names = string.Join(", ", _columns.Select(c => Sql.Ident(c.Name)));
        var converted = string.Join(", ", _columns.Select(c => $"CAST({Sql.Ident(c.Name)} AS {PostgresTypes.TargetType(c)})"));
        var nonKey = _columns.Where(c => !c.IsPrimaryKey).Select(c => $"{Sql.Ident(c.Name)} = EXCLUDED.{Sql.Ident(c.Name)}").ToList();
        var conflict = !HasKey ? "" : nonKey.Count == 0
            ? $" ON CONFLICT ({KeyList}) DO NOTHING"
            : $" ON CONFLICT ({KeyList}) DO UPDATE SET {string.Join(", ", nonKey)}";
        // Key order keeps concurrent jobs that upsert overlapping rows from deadlocking each other.
        var order = HasKey ? $" ORDER BY {KeyList}" : "";
        _mergeSql = $"INSERT INTO {TargetSql} ({names}) SELECT {converted} FROM {Stage}{order}{conflict}";
        _copyIntoTarget = $"{TargetSql} ({names})";
    }

    private string KeyList => string.Join(", ", target.Table.PrimaryKey.Select(c => Sql.Ident(c.Name)));

    public async Task WriteAsync(StagedBatch batch, CancellationToken ct)
    {
        var connection = _connection ?? throw new InvalidOperationException("PrepareAsync was not called.");
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (!HasKey && await AlreadyWrittenAsync(batch, ct)) return;
        if (!_copiesDirectly || !await TryCopyDirectlyAsync(batch, tx, ct))
        {
            await ExecuteAsync($"TRUNCATE {Stage}", ct);
            await CopyAsync(Stage, batch.Rows, ct);
            await ExecuteAsync(_mergeSql, ct);
        }
        if (!HasKey) await RecordProgressAsync(batch, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// The fast path: binary COPY straight into the target when none of the batch's keys can be there
    /// yet (the usual case for a first backfill). A key-range probe on the primary key decides; a row
    /// inserted by someone else since the probe rolls back to the savepoint and the batch is merged.
    /// </summary>
    private async Task<bool> TryCopyDirectlyAsync(StagedBatch batch, NpgsqlTransaction tx, CancellationToken ct)
    {
        if (HasKey && await KeyRangeHasRowsAsync(batch, ct)) return false;
        await tx.SaveAsync("direct_copy", ct);
        try
        {
            await CopyAsync(_copyIntoTarget, batch.Rows, ct);
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            await tx.RollbackAsync("direct_copy", ct);
            return false;
        }
    }

    private async Task<bool> KeyRangeHasRowsAsync(StagedBatch batch, CancellationToken ct)
    {
        var key = target.Table.PrimaryKey;
        string Bound(string prefix) => string.Join(", ", key.Select((c, i) => $"CAST(@{prefix}{i} AS {PostgresTypes.TargetType(c)})"));
        var lower = batch.Source.Start.LastKey is null ? "" : $" AND ({KeyList}) > ({Bound("l")})";
        await using var cmd = new NpgsqlCommand(
            $"SELECT EXISTS (SELECT 1 FROM {TargetSql} WHERE ({KeyList}) <= ({Bound("h")}){lower})", _connection);
        for (var i = 0; i < key.Count; i++)
        {
            cmd.Parameters.AddWithValue($"h{i}", batch.Source.End.LastKey![i]);
            if (batch.Source.Start.LastKey is { } start) cmd.Parameters.AddWithValue($"l{i}", start[i]);
        }
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private async Task CopyAsync(string into, IReadOnlyList<object?[]> rows, CancellationToken ct)
    {
        await using var importer = await _connection!.BeginBinaryImportAsync($"COPY {into} FROM STDIN (FORMAT BINARY)", ct);
        foreach (var row in rows)
        {
            await importer.StartRowAsync(ct);
            for (var i = 0; i < row.Length; i++)
            {
                if (row[i] is null) await importer.WriteNullAsync(ct);
                else await importer.WriteAsync(row[i], _dbTypes[i], ct);
            }
        }
        await importer.CompleteAsync(ct);
    }

    private async Task<bool> AlreadyWrittenAsync(StagedBatch batch, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            $"SELECT next_block FROM {Schema}.{ProgressTable} WHERE job_id = @job AND target_table = @table FOR UPDATE", _connection);
        cmd.Parameters.AddWithValue("job", target.JobId);
        cmd.Parameters.AddWithValue("table", target.TargetTable);
        return await cmd.ExecuteScalarAsync(ct) is long written && written >= batch.Source.End.NextBlock;
    }

    private async Task RecordProgressAsync(StagedBatch batch, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO {Schema}.{ProgressTable} (job_id, target_table, next_block) VALUES (@job, @table, @next)
            ON CONFLICT (job_id, target_table) DO UPDATE SET next_block = EXCLUDED.next_block
            """, _connection);
        cmd.Parameters.AddWithValue("job", target.JobId);
        cmd.Parameters.AddWithValue("table", target.TargetTable);
        cmd.Parameters.AddWithValue("next", batch.Source.End.NextBlock!.Value);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private async Task ExecuteAsync(string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, _connection);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
    }

    public static async Task<string> TestAsync(PostgresDestinationSettings settings, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(settings.Connection.ConnectionString("BackfillStudio test"));
        await connection.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT version()", connection);
        return (string)(await cmd.ExecuteScalarAsync(ct))!;
    }
}
