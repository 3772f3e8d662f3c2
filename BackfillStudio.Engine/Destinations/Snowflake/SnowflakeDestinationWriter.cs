using System.Text;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;

namespace BackfillStudio.Engine.Destinations.Snowflake;

/// <summary>
/// Loads a job into Snowflake through the SQL API: each batch goes into the job's TRANSIENT staging
/// table with bound INSERTs (chunked so requests stay small), then one MERGE on the primary key moves
/// it into the target, so a retried or resumed batch changes nothing. Tables without a primary key
/// append the batch and record it in <c>_backfill_progress</c> in one transaction (a multi-statement
/// request), so a batch is appended once. The staging table is dropped when the job ends.
/// <para>
/// Fencing: each batch's transaction first raises the job's epoch in <c>_backfill_fence</c> (<see cref="ClaimFence"/>),
/// and its writes take effect only while no newer epoch is recorded there; afterwards the writer reads the fence and
/// stops (<see cref="StaleClaimException"/>) when a newer claim wrote. Snowflake has no conditional abort, so a stale
/// writer's transaction commits having changed nothing instead of being rolled back.
/// </para>
/// </summary>
public sealed class SnowflakeDestinationWriter(SnowflakeSqlApiClient client, SnowflakeDestinationSettings settings, WriteTarget target)
    : IDestinationWriter
{
    /// <summary>
    /// Bytes of statement text and bound values per INSERT request: Snowflake's documented query text limit ("Limits on
    /// Query Text Size": 1 MB, bound values included; a larger statement runs but cannot be retried). A single row larger
    /// than this goes alone.
    /// </summary>
    public const int MaxRequestBytes = 1024 * 1024;

    /// <summary>Rows per INSERT: <c>INSERT ... VALUES</c> takes at most 200,000.</summary>
    public const int MaxRowsPerRequest = 200_000;

    /// <summary>A batch's stage INSERTs sent at once; the MERGE waits for all of them.</summary>
    public const int RequestsInFlight = 4;

    private IReadOnlyList<SourceColumn> Columns => target.Table.Columns;
    private IReadOnlyList<SourceColumn> Key => target.Table.PrimaryKey;
    private string Schema => SnowflakeSql.Ident(settings.Name(settings.Schema));
    private string TargetSql => $"{Schema}.{SnowflakeSql.Ident(settings.Name(target.TargetTable))}";
    // Per claim: an engine that lost the job never empties or drops the stage of the engine that took it over.
    private string StageSql => $"{Schema}.{SnowflakeSql.Ident(settings.Name($"{target.TargetTable}__backfill_stage_{target.JobId}_{target.Epoch}"))}";
    private string ProgressSql => $"{Schema}.{SnowflakeSql.Ident(settings.Name("_backfill_progress"))}";
    private string FenceSql => $"{Schema}.{SnowflakeSql.Ident(settings.Name(ClaimFence.Table))}";
    private string ThisJob => $"job_id = {target.JobId} AND target_table = {SnowflakeSql.Literal(target.TargetTable)}";

    /// <summary>True while no claim newer than this writer's has written the job's target.</summary>
    private string NotFenced => $"NOT EXISTS (SELECT 1 FROM {FenceSql} WHERE {ThisJob} AND epoch > {target.Epoch})";
    private string ColumnList => string.Join(", ", Columns.Select(Name));

    private string Name(SourceColumn column) => SnowflakeSql.Ident(settings.Name(column.Name));

    public async Task PrepareAsync(CancellationToken ct)
    {
        var definitions = string.Join(", ", Columns.Select(c => $"{Name(c)} {SnowflakeTypes.ColumnType(c)}"));
        var key = Key.Count > 0 ? $", PRIMARY KEY ({string.Join(", ", Key.Select(Name))})" : "";
        await client.ExecuteAsync($"CREATE TABLE IF NOT EXISTS {TargetSql} ({definitions}{key})", null, ct);
        await client.ExecuteAsync($"CREATE OR REPLACE TRANSIENT TABLE {StageSql} ({definitions})", null, ct);
        if (Key.Count == 0)
            await client.ExecuteAsync($"CREATE TABLE IF NOT EXISTS {ProgressSql} (job_id NUMBER(10,0), target_table VARCHAR, next_block NUMBER(19,0))", null, ct);
        await client.ExecuteAsync($"CREATE TABLE IF NOT EXISTS {FenceSql} (job_id NUMBER(10,0), target_table VARCHAR, epoch NUMBER(19,0))", null, ct);
        await ClaimAsync(ct);
        await MatchTargetColumnsAsync(ct);
        // Before any batch: a claim that splits the job writes nothing under the job's own id (its chunks write under
        // theirs), and the older claim it took over must meet the fence all the same.
        await client.ExecuteAsync(RaiseFenceSql(), null, ct);
    }

    /// <summary>
    /// Adds the columns a target made before lacks (the source table gained them), and fails when it has one whose type
    /// does not hold the job's values (<see cref="ExistingColumnTypes"/>): the MERGE would cast every value to it, and
    /// Snowflake rounds a NUMBER(12,3) into NUMBER(12,1) and moves a TIMESTAMP_TZ into a TIMESTAMP_NTZ without its offset.
    /// Types are compared as <c>DESCRIBE TABLE</c> spells them for the target and for the stage, made with the target's
    /// declared columns. A column the target has under the same name in another case fails the job too.
    /// </summary>
    private async Task MatchTargetColumnsAsync(CancellationToken ct)
    {
        async Task<IReadOnlyList<string?[]>> DescribeAsync(string table) => (await client.ExecuteAsync($"DESCRIBE TABLE {table}", null, ct)).Rows;
        var declared = (await DescribeAsync(StageSql)).Select(r => (r[0]!, r[1]!));
        var existing = (await DescribeAsync(TargetSql)).ToDictionary(r => r[0]!, r => r[1]!, StringComparer.Ordinal);
        var table = $"{settings.Name(settings.Schema)}.{settings.Name(target.TargetTable)} in Snowflake";
        foreach (var key in Key.Select(c => settings.Name(c.Name)))
        {
            // The stage gets a schema's DEFAULT_DDL_COLLATION as the target does, so both are looked at.
            var types = declared.Where(d => d.Item1 == key).Select(d => d.Item2).Append(existing.GetValueOrDefault(key) ?? "");
            if (types.Select(SnowflakeTypes.Collation).FirstOrDefault(c => c is not null) is { } collation)
                throw new InvalidOperationException(
                    $"The key column {key} of {table} compares its texts under the collation {collation}, which may find texts equal that the " +
                    "source keeps apart ('K' and 'k' under 'en-ci'), so the MERGE would write one's row over the other's. Declare the column " +
                    "COLLATE 'utf8' (or drop the schema's DEFAULT_DDL_COLLATION) and start the backfill again.");
        }
        var missing = ExistingColumnTypes.Missing(table, declared, existing);
        foreach (var name in missing)
        {
            if (existing.Keys.FirstOrDefault(other => string.Equals(other, name, StringComparison.OrdinalIgnoreCase)) is { } other)
                throw new InvalidOperationException(
                    $"The table {table} has a column {other} where the job writes one named {name}. Snowflake holds them apart (a quoted " +
                    $"name keeps its case), so the rows would go to a new column {name} beside {other}, and with a key among them every " +
                    "row would be added again. Set the destination's identifier case to upper to write unquoted (upper-case) names, " +
                    "or rename the column.");
        }
        foreach (var column in missing.Select(name => Columns.Single(c => settings.Name(c.Name) == name)))
            await client.ExecuteAsync($"ALTER TABLE {TargetSql} ADD COLUMN {Name(column)} {SnowflakeTypes.ColumnType(column)}", null, ct);
    }

    /// <summary>
    /// Records the job's source table as the target's, or fails when another source table filled it. Snowflake
    /// enforces no keys: two first jobs racing may both record theirs, and then both fail (never both write),
    /// each withdrawing its own claim.
    /// </summary>
    private async Task ClaimAsync(CancellationToken ct)
    {
        var registry = $"{Schema}.{SnowflakeSql.Ident(settings.Name(TargetOwnership.Table))}";
        await client.ExecuteAsync($"CREATE TABLE IF NOT EXISTS {registry} (target_table VARCHAR, source VARCHAR)", null, ct);
        List<SnowflakeBinding> Bind(params string[] values) => values.Select(v => new SnowflakeBinding("TEXT", v)).ToList();
        // The name as Snowflake stores it: with upper-case identifiers, Items and items are one table.
        var name = settings.Name(target.TargetTable);
        await client.ExecuteAsync($"INSERT INTO {registry} SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM {registry} WHERE target_table = ?)",
            Bind(name, target.Source, name), ct);
        var owners = await client.ExecuteAsync($"SELECT DISTINCT source FROM {registry} WHERE target_table = ?", Bind(name), ct);
        if (owners.Rows.Select(r => r[0]).FirstOrDefault(o => o != target.Source) is { } other)
        {
            // After a race both claims are recorded; withdrawing this one leaves the target to the other.
            await client.ExecuteAsync($"DELETE FROM {registry} WHERE target_table = ? AND source = ?", Bind(name, target.Source), ct);
            throw TargetOwnership.Conflict(name, other, target.Source);
        }
    }

    public void CheckValues(Batch batch) => ValueRejectedException.ThrowIfAny(target.Table, batch.Rows, SnowflakeTypes.Refusal);

    public async Task WriteAsync(Batch batch, CancellationToken ct)
    {
        await client.ExecuteAsync($"DELETE FROM {StageSql}", null, ct);
        await Parallel.ForEachAsync(InsertChunks(batch.Rows), new ParallelOptions { MaxDegreeOfParallelism = RequestsInFlight, CancellationToken = ct },
            async (chunk, token) => await client.ExecuteAsync(chunk.Sql, chunk.Bindings, token));
        // The statement that commits the batch is not cancelled half-way: whether a cancelled MERGE ran or not cannot be
        // known, and the job's count must say what the target holds. Only its upload is.
        ct.ThrowIfCancellationRequested();
        try
        {
            await client.ExecuteTransactionAsync([StagedRowsCheckSql(batch), RaiseFenceSql(), .. Key.Count > 0 ? [MergeSql()] : AppendOnceSql(batch)],
                CancellationToken.None);
        }
        catch (SnowflakeStatementException e) when (e.Message.Contains(StagedRowsMark, StringComparison.Ordinal))
        {
            // A passing fault: the job retries from its checkpoint, staging the batch anew.
            throw new SnowflakeUnavailableException($"The Snowflake stage of batch {batch.Sequence} of {target.Table.TableName} did not hold the " +
                $"batch's {batch.RowCount:N0} rows: a statement that loaded it ran twice (a request resent while Snowflake still ran it) or not " +
                "at all. Nothing of the batch was written.");
        }
        var fence = await client.ExecuteAsync($"SELECT MAX(epoch) FROM {FenceSql} WHERE {ThisJob}", null, CancellationToken.None);
        if (fence.Rows.FirstOrDefault()?.FirstOrDefault() is { } newest && decimal.Parse(newest, System.Globalization.CultureInfo.InvariantCulture) > target.Epoch)
            throw new StaleClaimException($"Snowflake destination {settings.Database}.{settings.Schema}", target);
    }

    private const string StagedRowsMark = "backfill stage check";

    /// <summary>
    /// Fails the batch's transaction unless the stage holds exactly the batch's rows: Snowflake runs a resent request
    /// again unless its first execution had succeeded, so an INSERT resent while it still ran may have staged its rows
    /// twice, and the MERGE (or append) would write them twice. The failure is a cast of a text naming the counts, which
    /// Snowflake (and the emulator) quote in their error. An execution still running when this check passes, and
    /// committing before the MERGE, is not seen: that window is the few milliseconds between two statements.
    /// </summary>
    private string StagedRowsCheckSql(Batch batch) =>
        $"SELECT CAST(CASE WHEN COUNT(*) = {batch.RowCount} THEN '0' ELSE '{StagedRowsMark}: ' || CAST(COUNT(*) AS VARCHAR) || " +
        $"' staged, {batch.RowCount} in the batch' END AS INTEGER) FROM {StageSql}";

    private string RaiseFenceSql() => $"""
        MERGE INTO {FenceSql} AS f USING (SELECT {target.JobId} AS job_id, {SnowflakeSql.Literal(target.TargetTable)} AS target_table, {target.Epoch} AS epoch) AS c
        ON f.job_id = c.job_id AND f.target_table = c.target_table
        WHEN MATCHED AND f.epoch < c.epoch THEN UPDATE SET epoch = c.epoch
        WHEN NOT MATCHED THEN INSERT (job_id, target_table, epoch) VALUES (c.job_id, c.target_table, c.epoch)
        """;

    /// <summary>
    /// <c>INSERT INTO stage SELECT ... FROM (VALUES (?, ?), ...)</c> per chunk of at most <see cref="MaxRequestBytes"/>:
    /// VARIANT and ARRAY values cannot appear inside VALUES, so they are bound as text and parsed in the SELECT.
    /// </summary>
    private IEnumerable<(string Sql, List<SnowflakeBinding> Bindings)> InsertChunks(IReadOnlyList<object?[]> rows)
    {
        var aliases = Enumerable.Range(1, Columns.Count).Select(i => $"c{i}").ToList();
        var select = string.Join(", ", Columns.Select((c, i) => SnowflakeTypes.FromBinding(c, aliases[i])));
        var placeholders = "(" + string.Join(", ", Enumerable.Repeat("?", Columns.Count)) + ")";
        var bindingTypes = Columns.Select(SnowflakeTypes.BindingType).ToArray();
        var statementBytes = Encoding.UTF8.GetByteCount(Sql(0));

        var bindings = new List<SnowflakeBinding>();
        var rowCount = 0;
        var bytes = statementBytes;
        var row = new SnowflakeBinding[Columns.Count];
        foreach (var values in rows)
        {
            var rowBytes = placeholders.Length + 2;
            for (var i = 0; i < values.Length; i++)
            {
                var value = SnowflakeTypes.Encode(Columns[i], values[i]);
                rowBytes += value is null ? 0 : Encoding.UTF8.GetByteCount(value);
                row[i] = new SnowflakeBinding(bindingTypes[i], value);
            }
            if (rowCount > 0 && (bytes + rowBytes > MaxRequestBytes || rowCount == MaxRowsPerRequest))
            {
                yield return (Sql(rowCount), bindings);
                (bindings, rowCount, bytes) = ([], 0, statementBytes);
            }
            bindings.AddRange(row);
            rowCount++;
            bytes += rowBytes;
        }
        if (rowCount > 0) yield return (Sql(rowCount), bindings);

        string Sql(int count)
        {
            var values = new StringBuilder();
            for (var r = 0; r < count; r++) values.Append(r == 0 ? "" : ", ").Append(placeholders);
            return $"INSERT INTO {StageSql} ({ColumnList}) SELECT {select} FROM (VALUES {values}) AS v ({string.Join(", ", aliases)})";
        }
    }

    private string MergeSql()
    {
        var on = string.Join(" AND ", Key.Select(k => $"t.{Name(k)} = s.{Name(k)}"));
        var others = Columns.Where(c => !c.IsPrimaryKey).ToList();
        var update = others.Count == 0 ? "" : $" WHEN MATCHED THEN UPDATE SET {string.Join(", ", others.Select(c => $"{Name(c)} = s.{Name(c)}"))}";
        var values = string.Join(", ", Columns.Select(c => $"s.{Name(c)}"));
        return $"MERGE INTO {TargetSql} AS t USING (SELECT * FROM {StageSql} WHERE {NotFenced}) AS s ON {on}{update} " +
               $"WHEN NOT MATCHED THEN INSERT ({ColumnList}) VALUES ({values})";
    }

    /// <summary>
    /// Appends the staged batch unless this job already appended it, and records it (in the batch's transaction). The
    /// record only moves forward: a batch written again (a resume from a checkpoint older than the target) leaves it
    /// where the later batches put it, so they are skipped too.
    /// </summary>
    private string[] AppendOnceSql(Batch batch)
    {
        var end = batch.BlocksEnd;
        return
        [
            $"INSERT INTO {TargetSql} ({ColumnList}) SELECT {ColumnList} FROM {StageSql} " +
            $"WHERE NOT EXISTS (SELECT 1 FROM {ProgressSql} WHERE {ThisJob} AND next_block >= {end}) AND {NotFenced}",
            $"DELETE FROM {ProgressSql} WHERE {ThisJob} AND next_block < {end} AND {NotFenced}",
            $"INSERT INTO {ProgressSql} (job_id, target_table, next_block) " +
            $"SELECT {target.JobId}, {SnowflakeSql.Literal(target.TargetTable)}, {end} WHERE {NotFenced} " +
            $"AND NOT EXISTS (SELECT 1 FROM {ProgressSql} WHERE {ThisJob})",
        ];
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await client.ExecuteAsync($"DROP TABLE IF EXISTS {StageSql}", null, timeout.Token);
        }
        catch (Exception e) when (e is SnowflakeStatementException or SnowflakeUnavailableException or OperationCanceledException or InvalidOperationException)
        {
            // The next run of the job replaces the staging table; a leftover one holds no rows that matter.
        }
        client.Dispose();
    }

    public static async Task<string> TestAsync(SnowflakeSqlApiClient client, CancellationToken ct)
    {
        var result = await client.ExecuteAsync("SELECT CURRENT_VERSION()", null, ct);
        return $"Snowflake {result.Rows.FirstOrDefault()?.FirstOrDefault()}";
    }
}
