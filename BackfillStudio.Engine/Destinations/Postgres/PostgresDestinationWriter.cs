using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using Npgsql;
using NpgsqlTypes;

namespace BackfillStudio.Engine.Destinations.Postgres;

/// <summary>
/// Loads each batch with binary COPY, in one transaction: straight into the target when the batch's
/// keys cannot be there yet, otherwise into a per-job temporary staging table that is then merged into
/// the target with <c>INSERT ... ON CONFLICT</c> on the primary key. Tables without
/// a primary key record the batch in <c>_backfill_progress</c> in the same transaction, so a batch
/// that was committed but not yet checkpointed is skipped, not duplicated, when the job resumes. Every batch's
/// transaction first passes the job's <see cref="ClaimFence"/>.
/// <para>
/// A batch of binary COPY data (<see cref="Batch.Binary"/>) goes the same ways without being decoded: the target takes
/// it when each of its columns has exactly the type the source sends (<see cref="TakesBinaryCopy"/>), as tables this
/// writer created do; its stage is then a copy of the target's columns.
/// </para>
/// <para>
/// The target's DDL runs only when something is missing, under a lock timeout, so a long query on an
/// existing target never holds a job up. Columns generated in an existing target are left to it.
/// </para>
/// </summary>
public sealed class PostgresDestinationWriter(PostgresDestinationSettings settings, WriteTarget target, TimeSpan ddlLockTimeout, int stallTimeoutSeconds)
    : IDestinationWriter
{
    private const string Stage = "backfill_stage";
    private const string BinaryStage = "backfill_binary_stage";
    private const string ProgressTable = "_backfill_progress";

    private NpgsqlConnection? _connection;
    private int _processId;
    private string _mergeSql = "";
    private string _binaryMergeSql = "";
    private string _copyIntoTarget = "";
    /// <summary>Positions (in the source row) of the columns written: all but those generated in the target.</summary>
    private int[] _written = [];
    private NpgsqlDbType[] _stageTypes = [];
    private NpgsqlDbType[] _directTypes = [];
    /// <summary>Per written column: numerics carried as text that the direct path writes as decimals.</summary>
    private bool[] _asDecimal = [];
    private bool _copiesDirectly;
    /// <summary>
    /// Per written column whose values the merge's cast could change (another type in the target, or money): the query
    /// finding a staged value it would change, and why.
    /// </summary>
    private List<(SourceColumn Column, string Sql, string Reason)> _changeChecks = [];
    /// <summary>The written columns' names and their types in the target when the job prepared it.</summary>
    private string[] _targetNames = [];
    private string[] _targetTypes = [];

    public bool TakesBinaryCopy { get; private set; }

    private string Schema => Sql.Ident(settings.Schema);
    private string TargetSql => $"{Schema}.{Sql.Ident(target.TargetTable)}";
    private string RegistrySql => $"{Schema}.{TargetOwnership.Table}";
    private string FenceSql => $"{Schema}.{ClaimFence.Table}";
    private bool HasKey => target.Table.PrimaryKey.Count > 0;

    public async Task PrepareAsync(CancellationToken ct)
    {
        // Pipelines made before their names were checked may hold a longer one, which two tables could share.
        if (Sql.IdentifierTooLong(target.TargetTable) is { } tooLong)
            throw new InvalidOperationException($"The target table name '{target.TargetTable}' {tooLong}. Give the pipeline's table a shorter target_table_name.");
        _connection = await (settings.Connection with { CommandTimeoutSeconds = stallTimeoutSeconds }).OpenAsync($"{SessionPrefix}{target.Epoch}", ct);
        // Kept now: after a cancelled COPY the connection may already be broken when it is needed.
        _processId = _connection.ProcessID;
        // A checkpoint says a batch is in the target for good, and a resumed job never writes it again: a commit must not
        // be answered before its WAL is written, as synchronous_commit = off (set for the database or role) does.
        await ExecuteAsync("SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') = 'off'", ct);
        await EndOlderClaimsSessionsAsync(ct);
        // The target is claimed before any DDL touches it, so a job of another source table changes nothing.
        if (!await ExistsAsync(RegistrySql, ct))
            await RunDdlAsync(_ => [$"CREATE SCHEMA IF NOT EXISTS {Schema}", $"CREATE TABLE IF NOT EXISTS {RegistrySql} (target_table text PRIMARY KEY, source text NOT NULL)"], ct);
        await ClaimAsync(ct);
        var existing = await TargetColumnsAsync(ct);
        if (existing is not null)
        {
            await RefuseRowRewritersAsync(ct);
            await RefuseUnloggedAsync(ct);
            await MatchTargetKeyAsync(ct);
        }
        if (TargetDdl(existing).Count > 0 || !HasKey && !await ExistsAsync($"{Schema}.{ProgressTable}", ct) || !await ExistsAsync(FenceSql, ct))
            existing = await RunDdlAsync(TargetDdl, ct);

        var columns = target.Table.Columns;
        _written = Enumerable.Range(0, columns.Count).Where(i => existing?.GetValueOrDefault(columns[i].Name)?.Generated != true).ToArray();
        var written = _written.Select(i => columns[i]).ToList();
        _stageTypes = written.Select(PostgresTypes.DbType).ToArray();
        _directTypes = written.Select(PostgresTypes.DirectDbType).ToArray();
        _asDecimal = written.Select(c => c.Kind == ValueKind.NumericText).ToArray();
        _targetNames = written.Select(c => c.Name).ToArray();
        _targetTypes = written.Select(c => existing![c.Name].Type).ToArray();
        // A target made elsewhere may have other types (bigint for int, say): its rows then arrive through the merge's casts.
        var typesMatch = written.All(c => existing![c.Name].Type == PostgresTypes.TargetType(c));
        _copiesDirectly = typesMatch && written.All(PostgresTypes.CopiesDirectly);
        TakesBinaryCopy = typesMatch && written.Count == columns.Count;
        var stageColumns = string.Join(", ", written.Select(c => $"{Sql.Ident(c.Name)} {PostgresTypes.StageType(c)}"));
        await ExecuteAsync($"DROP TABLE IF EXISTS pg_temp.{Stage}", ct);
        await ExecuteAsync($"CREATE TEMP TABLE {Stage} ({stageColumns})", ct);

        var names = string.Join(", ", written.Select(c => Sql.Ident(c.Name)));
        if (TakesBinaryCopy)
        {
            await ExecuteAsync($"DROP TABLE IF EXISTS pg_temp.{BinaryStage}", ct);
            await ExecuteAsync($"CREATE TEMP TABLE {BinaryStage} AS SELECT {names} FROM {TargetSql} WITH NO DATA", ct);
        }
        var converted = string.Join(", ", written.Select(c => PostgresTypes.FromStage(c, Sql.Ident(c.Name))));
        _changeChecks = written.Where(c => existing![c.Name].Type != PostgresTypes.TargetType(c))
            .Select(c => (c, ChangeCheckSql(c, existing![c.Name].Type),
                $"would not stay the same in {settings.Schema}.{target.TargetTable}, whose column has type {existing[c.Name].Type}."))
            .Concat(await MoneyChecksAsync(written.Where(c => c.IsMoney).ToList(), ct))
            .ToList();
        var nonKey = written.Where(c => !c.IsPrimaryKey).Select(c => $"{Sql.Ident(c.Name)} = EXCLUDED.{Sql.Ident(c.Name)}").ToList();
        var conflict = !HasKey ? "" : nonKey.Count == 0
            ? $" ON CONFLICT ({KeyList}) DO NOTHING"
            : $" ON CONFLICT ({KeyList}) DO UPDATE SET {string.Join(", ", nonKey)}";
        // Key order keeps concurrent jobs that upsert overlapping rows from deadlocking each other.
        var order = HasKey ? $" ORDER BY {KeyList}" : "";
        _mergeSql = $"INSERT INTO {TargetSql} ({names}) SELECT {converted} FROM {Stage}{order}{conflict}";
        _binaryMergeSql = $"INSERT INTO {TargetSql} ({names}) SELECT {names} FROM {BinaryStage}{order}{conflict}";
        _copyIntoTarget = $"{TargetSql} ({names})";
    }

    private sealed record TargetColumn(bool Generated, string Type);

    /// <summary>
    /// A staged value of <paramref name="column"/> that does not come back the same after a trip through the target
    /// column's <paramref name="targetType"/> (numeric(20,1) for numeric(12,2) rounds, varchar(5) cuts, jsonb reorders):
    /// the merge's assignment cast would change it silently.
    /// </summary>
    private static string ChangeCheckSql(SourceColumn column, string targetType)
    {
        var value = PostgresTypes.FromStage(column, Sql.Ident(column.Name));
        return $"SELECT CAST({value} AS text) FROM {Stage} " +
               $"WHERE CAST(CAST(CAST({value} AS {targetType}) AS {PostgresTypes.TargetType(column)}) AS text) IS DISTINCT FROM CAST({value} AS text) LIMIT 1";
    }

    /// <summary>
    /// money counts units of the session's <c>lc_monetary</c>, so the target rounds a value to its locale's decimal places
    /// (12.34 becomes 12 under ja_JP): each money column checks that its staged values come back the same. Into a target
    /// column of another type too: the merge goes through money there as well, and the change check compares what is left.
    /// </summary>
    private async Task<IEnumerable<(SourceColumn, string, string)>> MoneyChecksAsync(List<SourceColumn> columns, CancellationToken ct)
    {
        if (columns.Count == 0) return [];
        await using var cmd = new NpgsqlCommand("SELECT current_setting('lc_monetary')", _connection);
        var locale = (string)(await cmd.ExecuteScalarAsync(ct))!;
        return columns.Select(c =>
        {
            var staged = $"CAST({Sql.Ident(c.Name)} AS {c.MoneyCarrier})";
            return (c, $"SELECT CAST({Sql.Ident(c.Name)} AS text) FROM {Stage} " +
                       $"WHERE CAST(CAST({staged} AS {PostgresTypes.TargetType(c)}) AS {c.MoneyCarrier}) IS DISTINCT FROM {staged} LIMIT 1",
                $"would not stay the same in {settings.Schema}.{target.TargetTable}: money there has the decimal places of the " +
                $"target database's lc_monetary ({locale}), which would round it.");
        });
    }

    /// <summary>The target's columns by name, or null when the table does not exist yet.</summary>
    private async Task<Dictionary<string, TargetColumn>?> TargetColumnsAsync(CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT a.attname, a.attgenerated <> '', format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = to_regclass(@table) AND a.attnum > 0 AND NOT a.attisdropped
            """, _connection);
        cmd.Parameters.AddWithValue("table", TargetSql);
        var columns = new Dictionary<string, TargetColumn>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) columns[reader.GetString(0)] = new TargetColumn(reader.GetBoolean(1), reader.GetString(2));
        return columns.Count == 0 ? null : columns;
    }

    /// <summary>
    /// Fails when a target made before has a trigger that runs before each row is inserted or updated (it may change the
    /// row: <c>NEW.updated_at := now()</c>, which <c>pg_dump -s</c> of the source brings along), or a rule on INSERT or
    /// UPDATE (it may rewrite or drop the merge's rows): the copy would not hold the source's values, and a count would not
    /// show it. A partitioned target's partitions are looked at too: their triggers fire for the rows routed to them.
    /// Triggers after the row and disabled ones change nothing the job writes; one that fires only on replicas counts, as
    /// a role or database may run its sessions as a replica's.
    /// </summary>
    private async Task RefuseRowRewritersAsync(CancellationToken ct)
    {
        if (await FirstRowAsync($"""
            {TargetTreeSql}
            SELECT 'trigger', t.tgname, t.tgrelid = to_regclass(@table), n.nspname, c.relname
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE t.tgrelid IN (SELECT relid FROM tables) AND NOT t.tgisinternal AND t.tgenabled <> 'D'
              AND t.tgtype & 3 = 3 AND t.tgtype & 20 <> 0  -- ROW (1) and BEFORE (2); INSERT (4) or UPDATE (16)
            UNION ALL
            -- A rule acts on the table a statement names: only the target's own.
            SELECT 'rule', r.rulename, true, '', '' FROM pg_rewrite r
            WHERE r.ev_class = to_regclass(@table) AND r.ev_type IN ('2', '3') AND r.ev_enabled <> 'D'
            ORDER BY 3 DESC, 1, 2 LIMIT 1
            """, ct) is not [string kind, string name, bool own, string schema, string partition]) return;
        var table = $"{settings.Schema}.{target.TargetTable}";
        var (tableSql, nameSql) = (own ? TargetSql : $"{Sql.Ident(schema)}.{Sql.Ident(partition)}", Sql.Ident(name));
        var where = own ? "" : $" on its partition {schema}.{partition}";
        throw new InvalidOperationException(kind == "trigger"
            ? $"{table} has the trigger {name}{where}, which runs before each row is inserted or updated and may change it: the copy " +
              $"would not hold the source's values. Disable it while the backfill runs (ALTER TABLE {tableSql} DISABLE TRIGGER {nameSql}) or drop it."
            : $"{table} has the rule {name} on INSERT or UPDATE, which may rewrite or drop the rows the job writes. Drop it " +
              $"(DROP RULE {nameSql} ON {tableSql}) or disable it (ALTER TABLE {tableSql} DISABLE RULE {nameSql}).");
    }

    /// <summary>The first row of a query (null when none) whose parameter <c>@table</c> is the target.</summary>
    private async Task<object[]?> FirstRowAsync(string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, _connection);
        cmd.Parameters.AddWithValue("table", TargetSql);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var row = new object[reader.FieldCount];
        reader.GetValues(row);
        return row;
    }

    /// <summary>The target and its partitions, all levels down, as <c>tables(relid)</c>; <c>@table</c> is the target.</summary>
    private const string TargetTreeSql = """
        WITH RECURSIVE tables(relid) AS (
            SELECT to_regclass(@table)::oid
            UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tables p ON i.inhparent = p.relid JOIN pg_class c ON c.oid = i.inhrelid AND c.relispartition)
        """;

    /// <summary>
    /// Fails when a target made before, or one of its partitions, is UNLOGGED: PostgreSQL empties such a table when it
    /// recovers from a crash or promotes a standby, so rows the job's checkpoints say are written would be gone, and a
    /// resumed job would not write them again.
    /// </summary>
    private async Task RefuseUnloggedAsync(CancellationToken ct)
    {
        if (await FirstRowAsync($"""
            {TargetTreeSql}
            SELECT n.nspname::text, c.relname::text, c.oid = to_regclass(@table) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid IN (SELECT relid FROM tables) AND c.relpersistence = 'u'
            ORDER BY 3 DESC, 1, 2 LIMIT 1
            """, ct) is not [string schema, string name, bool own]) return;
        var table = $"{settings.Schema}.{target.TargetTable}";
        throw new InvalidOperationException((own ? $"{table} is UNLOGGED" : $"{table} has its partition {schema}.{name} UNLOGGED") +
            ": PostgreSQL empties an unlogged table when it recovers from a crash or promotes a standby, so rows this job has written, " +
            $"and would not write again, could be lost. Make it logged (ALTER TABLE {Sql.Ident(schema)}.{Sql.Ident(name)} SET LOGGED) or drop it.");
    }

    /// <summary>
    /// Fails when a target made before has no unique index on exactly the source's key (the merge's <c>ON CONFLICT</c>
    /// arbiter), or has one that finds texts equal which the source keeps apart: a citext column, or a nondeterministic
    /// collation. Without one, a batch the key probe found no rows for is copied as it is, and one written again after a
    /// stop (in a target ordering the key otherwise than the source) would be added twice. With a loose one, the source's
    /// 'K7' and 'k7' are two rows, but the second one's merge overwrote the first, and the job said COMPLETED with half of them.
    /// </summary>
    private async Task MatchTargetKeyAsync(CancellationToken ct)
    {
        if (!HasKey) return;
        var key = target.Table.PrimaryKey;
        await using var cmd = new NpgsqlCommand($"""
            SELECT ic.relname, a.attname, t.typname = 'citext', quote_ident(cn.nspname) || '.' || quote_ident(o.collname),
                   {PostgresCatalog.NondeterministicSql("i.indcollation[k]")}
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            CROSS JOIN LATERAL generate_series(0, i.indnkeyatts - 1) AS k
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k]
            JOIN pg_opclass oc ON oc.oid = i.indclass[k]
            JOIN pg_type t ON t.oid = oc.opcintype
            LEFT JOIN pg_collation o ON o.oid = i.indcollation[k]
            LEFT JOIN pg_namespace cn ON cn.oid = o.collnamespace
            -- The indexes ON CONFLICT takes as arbiters: valid, checked at once, without a predicate or expressions.
            WHERE i.indrelid = to_regclass(@table) AND i.indisunique AND i.indisvalid AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL
              AND i.indnkeyatts = cardinality(@key)
              AND NOT EXISTS (SELECT FROM generate_series(0, i.indnkeyatts - 1) AS j JOIN pg_attribute b ON b.attrelid = i.indrelid AND b.attnum = i.indkey[j]
                              WHERE b.attname <> ALL (@key))
            ORDER BY 1, k
            """, _connection);
        cmd.Parameters.AddWithValue("table", TargetSql);
        cmd.Parameters.AddWithValue("key", key.Select(c => c.Name).ToArray());
        var table = $"{settings.Schema}.{target.TargetTable}";
        var arbiterColumns = 0;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            arbiterColumns++;
            var (index, column, citext, loose) = (reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(4));
            if (!citext && !loose || key.Single(c => c.Name == column).HasLooseEquality) continue;
            var how = citext ? "of type citext" : $"under the collation {reader.GetString(3)}";
            throw new InvalidOperationException(
                $"{table} has the unique index {index}, which compares the key column {column} {how}: it finds texts equal that the " +
                $"source keeps apart ('K' and 'k', say), so their rows would overwrite each other. Give {column} the source's type and " +
                "a deterministic collation, or drop or rename the table and the job creates it with the source's types.");
        }
        if (arbiterColumns == 0)
            throw new InvalidOperationException(
                $"{table} has no primary key or unique index on the source's key ({string.Join(", ", key.Select(c => c.Name))}): rows are " +
                "merged by their key, so a batch written again after a stop could be added twice. Add the key (ALTER TABLE " +
                $"{TargetSql} ADD PRIMARY KEY ({KeyList})), or drop or rename the table and the job creates it with the source's types.");
    }

    private async Task<bool> ExistsAsync(string table, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT to_regclass(@table) IS NOT NULL", _connection);
        cmd.Parameters.AddWithValue("table", table);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>What the target needs: the table when it is missing, else the columns it lacks.</summary>
    private List<string> TargetDdl(Dictionary<string, TargetColumn>? existing)
    {
        var ddl = new List<string>();
        if (existing is null)
        {
            var columns = string.Join(", ", target.Table.Columns.Select(c => $"{Sql.Ident(c.Name)} {PostgresTypes.TargetType(c)}"));
            var key = HasKey ? $", PRIMARY KEY ({KeyList})" : "";
            ddl.Add($"CREATE TABLE IF NOT EXISTS {TargetSql} ({columns}{key})");
        }
        else
        {
            ddl.AddRange(target.Table.Columns.Where(c => !existing.ContainsKey(c.Name))
                .Select(c => $"ALTER TABLE {TargetSql} ADD COLUMN IF NOT EXISTS {Sql.Ident(c.Name)} {PostgresTypes.TargetType(c)}"));
        }
        return ddl;
    }

    /// <summary>
    /// Runs the statements <paramref name="ddl"/> gives for the target's columns as they are once the lock is
    /// held (another job may have changed them meanwhile), under the lock timeout; returns the columns after.
    /// </summary>
    private async Task<Dictionary<string, TargetColumn>?> RunDdlAsync(Func<Dictionary<string, TargetColumn>?, List<string>> ddl, CancellationToken ct)
    {
        await using var tx = await _connection!.BeginTransactionAsync(ct);
        try
        {
            await ExecuteAsync($"SET LOCAL lock_timeout = {(long)ddlLockTimeout.TotalMilliseconds}", ct);
            // Concurrent "IF NOT EXISTS" DDL can still collide in the catalog; jobs writing into one schema take turns.
            await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext(@name))", _connection))
            {
                lockCmd.Parameters.AddWithValue("name", $"backfillstudio:ddl:{settings.Schema}");
                await lockCmd.ExecuteNonQueryAsync(ct);
            }
            foreach (var statement in ddl(await TargetColumnsAsync(ct))) await ExecuteAsync(statement, ct);
            await ExecuteAsync($"""
                CREATE TABLE IF NOT EXISTS {FenceSql} (
                    job_id integer NOT NULL, target_table text NOT NULL, epoch bigint NOT NULL, PRIMARY KEY (job_id, target_table))
                """, ct);
            if (!HasKey)
            {
                await ExecuteAsync($"""
                    CREATE TABLE IF NOT EXISTS {Schema}.{ProgressTable} (
                        job_id integer NOT NULL, target_table text NOT NULL, next_block bigint NOT NULL,
                        PRIMARY KEY (job_id, target_table))
                    """, ct);
            }
            var columns = await TargetColumnsAsync(ct);
            await tx.CommitAsync(ct);
            return columns;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw new InvalidOperationException($"Could not lock {settings.Schema}.{target.TargetTable} to create it or add columns " +
                $"within {ddlLockTimeout.TotalSeconds:0} s: another session holds it (a long query, say). " +
                "The job can be started again once it is free; Backfill:DdlLockTimeoutSeconds sets the wait.", e);
        }
    }

    /// <summary>Records the job's source table as the target's, or fails when another source table filled it.</summary>
    private async Task ClaimAsync(CancellationToken ct)
    {
        // DO UPDATE (to the same value) returns the committed owner even when a concurrent claim won the race.
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO {RegistrySql} AS r VALUES (@target, @source)
            ON CONFLICT (target_table) DO UPDATE SET source = r.source RETURNING source
            """, _connection);
        cmd.Parameters.AddWithValue("target", target.TargetTable);
        cmd.Parameters.AddWithValue("source", target.Source);
        var owner = (string)(await cmd.ExecuteScalarAsync(ct))!;
        if (owner != target.Source) throw TargetOwnership.Conflict($"{settings.Schema}.{target.TargetTable}", owner, target.Source);
    }

    /// <summary>The job's sessions are named by claim, so a newer claim can find those of older ones.</summary>
    private string SessionPrefix => $"BackfillStudio job {target.JobId} claim ";

    /// <summary>
    /// Ends this job's sessions of older claims: an engine frozen inside a batch's transaction would otherwise hold the
    /// fence row (and the rows it upserted) until it thaws, and this claim would wait for it. Only sessions of the
    /// same user can be ended; the fence still refuses any others' later writes.
    /// </summary>
    private async Task EndOlderClaimsSessionsAsync(CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND usename = current_user AND pid <> pg_backend_pid()
              AND starts_with(application_name, @prefix)
              AND CASE WHEN substring(application_name FROM length(@prefix) + 1) ~ '^[0-9]{1,18}$'
                       THEN substring(application_name FROM length(@prefix) + 1)::bigint < @epoch END
            """, _connection);
        cmd.Parameters.AddWithValue("prefix", SessionPrefix);
        cmd.Parameters.AddWithValue("epoch", target.Epoch);
        await cmd.ExecuteScalarAsync(ct);
    }

    private string KeyList => string.Join(", ", target.Table.PrimaryKey.Select(c => Sql.Ident(c.Name)));

    public async Task WriteAsync(Batch batch, CancellationToken ct)
    {
        var connection = _connection ?? throw new InvalidOperationException("PrepareAsync was not called.");
        // At once, not after the client notices: a COPY whose socket is full (the server busy with rows already sent)
        // does not see the token until the server has read on; cancelled, the server reads the rest at once.
        Task? serverSideCancel = null;
        await using var cancelServerSide = ct.Register(() => serverSideCancel = CancelServerSideAsync(_processId));
        try
        {
            if (!await WriteInTransactionAsync(connection, batch, merge: false, cancelServerSide, ct))
                await WriteInTransactionAsync(connection, batch, merge: true, cancelServerSide, ct);
        }
        catch (Exception) when (ct.IsCancellationRequested && serverSideCancel is not null)
        {
            await serverSideCancel;
            throw;
        }
    }

    /// <summary>
    /// Writes the batch in one transaction: straight into the target unless <paramref name="merge"/> or the batch's keys
    /// may be there. False, with everything rolled back, when the straight copy met a key after all (inserted since the
    /// probe) or a numeric a decimal cannot hold: the caller then merges the batch in a new transaction. (A savepoint
    /// around the copy would save that second transaction, but costs every batch about a tenth of the target's time.)
    /// </summary>
    private async Task<bool> WriteInTransactionAsync(NpgsqlConnection connection, Batch batch, bool merge, CancellationTokenRegistration cancelServerSide,
        CancellationToken ct)
    {
        await using var tx = await connection.BeginTransactionAsync(ct);
        await BeginBatchAsync(ct);
        if (!HasKey && await AlreadyWrittenAsync(batch, ct)) return true;
        var direct = !merge && (batch.Binary is not null || _copiesDirectly) && !(HasKey && await KeyRangeHasRowsAsync(batch, ct));
        if (direct && !await CopyDirectlyAsync(batch, ct))
        {
            await tx.RollbackAsync(ct);
            return false;
        }
        if (!direct) await MergeAsync(batch, ct);
        if (!HasKey) await RecordProgressAsync(batch, ct);
        // Not cancellable: a commit cancelled half-way may or may not have happened, and the job's count must say which.
        cancelServerSide.Unregister();
        await tx.CommitAsync(CancellationToken.None);
        return true;
    }

    /// <summary>
    /// The fast path, binary COPY straight into the target (the usual case for a first backfill); false when a row
    /// inserted by someone else since the key-range probe, or a numeric a decimal cannot hold exactly, refused it.
    /// </summary>
    private async Task<bool> CopyDirectlyAsync(Batch batch, CancellationToken ct)
    {
        try
        {
            return batch.Binary is { } binary
                ? await CopyBinaryAsync(_copyIntoTarget, binary, ct)
                : await CopyAsync(_copyIntoTarget, batch.Rows, direct: true, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return false;
        }
    }

    /// <summary>Copies the batch into the job's temporary stage and upserts it into the target on the primary key.</summary>
    private async Task MergeAsync(Batch batch, CancellationToken ct)
    {
        if (batch.Binary is { } binary)
        {
            await ExecuteAsync($"TRUNCATE {BinaryStage}", ct);
            await CopyBinaryAsync(BinaryStage, binary, ct);
            await ExecuteAsync(_binaryMergeSql, ct);
            return;
        }
        await ExecuteAsync($"TRUNCATE {Stage}", ct);
        await CopyAsync(Stage, batch.Rows, direct: false, ct);
        await RefuseChangedValuesAsync(ct);
        await ExecuteAsync(_mergeSql, ct);
    }

    /// <summary>
    /// Cancels the job's backend from a second session, so a cancelled batch stops in the server too and leaves
    /// nothing running (rows a COPY already sent would keep it busy otherwise). Best effort: the client gives up anyway.
    /// </summary>
    private async Task CancelServerSideAsync(int processId)
    {
        try
        {
            await using var connection = new NpgsqlConnection(settings.Connection.ConnectionString($"{SessionPrefix}{target.Epoch} cancel"));
            await connection.OpenAsync(CancellationToken.None);
            await using var cmd = new NpgsqlCommand("SELECT pg_cancel_backend(@pid)", connection);
            cmd.Parameters.AddWithValue("pid", processId);
            await cmd.ExecuteScalarAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
        {
        }
    }

    /// <summary>
    /// The batch transaction's first statements, in one round trip. It locks the target as the batch's COPY would, which
    /// keeps its columns as they are until the transaction ends, and fails when one of them changed type or is gone since
    /// <see cref="PrepareAsync"/>: binary COPY data carries no types, so an integer column turned real would take the
    /// integers' bytes as floats. The lock comes first, before any snapshot, so even a REPEATABLE READ one sees the columns
    /// as they are. Then it raises the job's fence to this claim, or refuses when a newer claim wrote here.
    /// </summary>
    private async Task BeginBatchAsync(CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(_connection)
        {
            BatchCommands = { new NpgsqlBatchCommand($"LOCK TABLE {TargetSql} IN ROW EXCLUSIVE MODE"), ChangedColumnCommand(), RaiseFenceCommand() },
        };
        await using var reader = await batch.ExecuteReaderAsync(ct);
        if (await reader.ReadAsync(ct)) throw ColumnChanged(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
        await reader.NextResultAsync(ct);
        if (!await reader.ReadAsync(ct)) throw new StaleClaimException($"Table {settings.Schema}.{target.TargetTable}", target);
    }

    /// <summary>
    /// The first written column whose type in the target is no longer the one prepared for (<see cref="PostgresCatalog.FirstChangedColumnSql"/>).
    /// No collation is checked: the target is written, not walked in key order.
    /// </summary>
    private NpgsqlBatchCommand ChangedColumnCommand() => new(PostgresCatalog.FirstChangedColumnSql)
    {
        Parameters =
        {
            new() { Value = _targetNames }, new() { Value = _targetTypes }, new() { Value = TargetSql },
            new() { Value = Array.Empty<string>() }, new() { Value = Array.Empty<string>() },
        },
    };

    private InvalidOperationException ColumnChanged(string name, string was, string? now)
    {
        var table = $"{settings.Schema}.{target.TargetTable}";
        return new InvalidOperationException(now is null
            ? $"The column {name} of {table} is gone (dropped or renamed, or the table replaced) since the job began writing to it. " +
              "Start a new backfill."
            : $"The column {name} of {table} changed from {was} to {now} since the job began writing to it; its values are sent as {was}. " +
              "What the job wrote before is as it was. Resume the job to write the rest through a cast to the new type " +
              "(a value the cast would change fails it), or start a new backfill.");
    }

    /// <summary>Raises the job's fence to this claim; returns the epoch, or no row when a newer claim wrote here.</summary>
    private NpgsqlBatchCommand RaiseFenceCommand() => new($"""
        INSERT INTO {FenceSql} AS f (job_id, target_table, epoch) VALUES ($1, $2, $3)
        ON CONFLICT (job_id, target_table) DO UPDATE SET epoch = EXCLUDED.epoch WHERE f.epoch <= EXCLUDED.epoch
        RETURNING epoch
        """)
    {
        Parameters = { new() { Value = target.JobId }, new() { Value = target.TargetTable }, new() { Value = target.Epoch } },
    };

    private async Task<bool> KeyRangeHasRowsAsync(Batch batch, CancellationToken ct)
    {
        var key = target.Table.PrimaryKey;
        string Bound(string prefix) => string.Join(", ", key.Select((c, i) => $"CAST(@{prefix}{i} AS {PostgresTypes.TargetType(c)})"));
        var lower = batch.Keys!.After is null ? "" : $" AND ({KeyList}) > ({Bound("l")})";
        await using var cmd = new NpgsqlCommand(
            $"SELECT EXISTS (SELECT 1 FROM {TargetSql} WHERE ({KeyList}) <= ({Bound("h")}){lower})", _connection);
        for (var i = 0; i < key.Count; i++)
        {
            cmd.Parameters.AddWithValue($"h{i}", batch.Keys!.Last[i]);
            if (batch.Keys!.After is { } start) cmd.Parameters.AddWithValue($"l{i}", start[i]);
        }
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// Copies the rows; false (with the COPY abandoned) when <paramref name="direct"/> and a numeric's text
    /// has no exact decimal, so the caller merges the batch through the text-typed stage instead.
    /// </summary>
    private async Task<bool> CopyAsync(string into, IReadOnlyList<object?[]> rows, bool direct, CancellationToken ct)
    {
        var types = direct ? _directTypes : _stageTypes;
        await using var importer = await _connection!.BeginBinaryImportAsync($"COPY {into} FROM STDIN (FORMAT BINARY)", ct);
        foreach (var row in rows)
        {
            await importer.StartRowAsync(ct);
            for (var i = 0; i < _written.Length; i++)
            {
                var value = row[_written[i]];
                if (direct && _asDecimal[i] && value is string text && (value = PostgresTypes.ExactDecimal(text)) is null) return false;
                if (value is null) await importer.WriteNullAsync(ct);
                else await importer.WriteAsync(value, types[i], ct);
            }
        }
        await importer.CompleteAsync(ct);
        return true;
    }

    /// <summary>Throws for the first staged value the merge's cast would change (<see cref="_changeChecks"/>).</summary>
    private async Task RefuseChangedValuesAsync(CancellationToken ct)
    {
        foreach (var (column, sql, reason) in _changeChecks)
        {
            await using var cmd = new NpgsqlCommand(sql, _connection);
            if (await cmd.ExecuteScalarAsync(ct) is string value) throw new ValueRejectedException(target.Table.TableName, column.Name, value, reason);
        }
    }

    /// <summary>Loads binary COPY data as it came from the source (always true: it has no values that need the merge).</summary>
    private async Task<bool> CopyBinaryAsync(string into, BinaryCopyRows rows, CancellationToken ct)
    {
        await using (var copy = await _connection!.BeginRawBinaryCopyAsync($"COPY {into} FROM STDIN (FORMAT BINARY)", ct))
            await copy.WriteAsync(rows.Data, ct);
        return true;
    }

    private async Task<bool> AlreadyWrittenAsync(Batch batch, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            $"SELECT next_block FROM {Schema}.{ProgressTable} WHERE job_id = @job AND target_table = @table FOR UPDATE", _connection);
        cmd.Parameters.AddWithValue("job", target.JobId);
        cmd.Parameters.AddWithValue("table", target.TargetTable);
        return await cmd.ExecuteScalarAsync(ct) is long written && written >= batch.BlocksEnd;
    }

    private async Task RecordProgressAsync(Batch batch, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO {Schema}.{ProgressTable} (job_id, target_table, next_block) VALUES (@job, @table, @next)
            ON CONFLICT (job_id, target_table) DO UPDATE SET next_block = EXCLUDED.next_block
            """, _connection);
        cmd.Parameters.AddWithValue("job", target.JobId);
        cmd.Parameters.AddWithValue("table", target.TargetTable);
        cmd.Parameters.AddWithValue("next", batch.BlocksEnd!.Value);
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
