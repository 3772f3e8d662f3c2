using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Filters;
using Npgsql;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>
/// The one door to a source database, for one piece of work (a job, a verification, a preview, a catalog read): its
/// tables, a table's schema by name, the count of a table's matching rows, and a batch reader. The session runs in UTC.
/// </summary>
public sealed class PostgresSource : IAsyncDisposable
{
    private readonly string _name;

    private PostgresSource(NpgsqlConnection connection, string name)
    {
        Connection = connection;
        _name = name;
    }

    /// <summary>The open connection, for work that runs its own SQL on the source (filter checks, verification).</summary>
    public NpgsqlConnection Connection { get; }

    /// <param name="name">How messages name the source ("source 3").</param>
    /// <param name="purpose">The session's application_name, as the source's administrators see it.</param>
    public static async Task<PostgresSource> OpenAsync(SourceSettings settings, string name, string purpose, CancellationToken ct) =>
        new(await settings.OpenAsync(purpose, ct), name);

    public Task<IReadOnlyList<SourceTable>> ListTablesAsync(bool includePartitions, CancellationToken ct) =>
        PostgresCatalog.ListTablesAsync(Connection, includePartitions, ct);

    /// <summary>The table as the live catalog has it; <see cref="NotFoundException"/> when there is no such table.</summary>
    public async Task<TableSchema> TableAsync(string tableName, CancellationToken ct) =>
        await PostgresCatalog.FindTableAsync(Connection, tableName, ct)
            ?? throw new NotFoundException($"Table '{Messages.Shorten(tableName)}' does not exist in {_name}.");

    /// <summary><see cref="TableAsync"/>, for work that reads every row: fails with <see cref="ReadRefusalAsync"/>'s reason.</summary>
    public async Task<TableSchema> WholeTableAsync(string tableName, CancellationToken ct)
    {
        var table = await TableAsync(tableName, ct);
        return await ReadRefusalAsync(table, ct) is { } refusal ? throw new InvalidOperationException(refusal) : table;
    }

    /// <summary>
    /// Why the session's role cannot read every row of the table: it may not read the table at all, or a row-level
    /// security policy lets it see only some rows, which a backfill would copy alone; null when it sees every row. (Such
    /// a query fails anyway, see <see cref="SourceSettings"/>; this says why before any work starts, and what to do.)
    /// </summary>
    public async Task<string?> ReadRefusalAsync(TableSchema table, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT current_user, has_table_privilege($1, 'SELECT'), has_table_privilege($1, 'SELECT') AND row_security_active($1)", Connection);
        cmd.Parameters.Add(new NpgsqlParameter { Value = table.Oid, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var role = Sql.Ident(reader.GetString(0));
        if (!reader.GetBoolean(1))
            return $"The role {role} of {_name} may not read {table.TableName}: grant it (GRANT SELECT ON {table.QualifiedSql} TO {role}), " +
                "or read the source as a role that may.";
        if (!reader.GetBoolean(2)) return null;
        return $"Row-level security is on for {table.TableName} in {_name}, and its role {role} may see only the rows that the " +
            $"table's policies let through, so a backfill would copy only those. Read the source as a role that bypasses it " +
            $"(ALTER ROLE {role} BYPASSRLS), or as the table's owner (unless it forces row-level security) or a superuser.";
    }

    public async Task<long> CountAsync(TableSchema table, FilterPredicate filter, CancellationToken ct)
    {
        // A count of a big table may take long before its one row: not a stall, nor a runaway statement, whatever the
        // session's timeouts (statement_timeout is lifted for this transaction only).
        await using var tx = await Connection.BeginTransactionAsync(ct);
        await using (var unlimited = new NpgsqlCommand("SET LOCAL statement_timeout = 0", Connection, tx))
            await unlimited.ExecuteNonQueryAsync(ct);
        await using var cmd = new NpgsqlCommand($"SELECT count(*) FROM {table.QualifiedSql} WHERE {filter.Sql}", Connection, tx) { CommandTimeout = 0 };
        filter.AddParameters(cmd);
        var count = (long)(await cmd.ExecuteScalarAsync(ct))!;
        await tx.CommitAsync(ct);
        return count;
    }

    /// <param name="upTo">Ends the read at this key (its text per key column), inclusive.</param>
    /// <param name="format">Decoded rows, or binary COPY data (for <see cref="BatchFormat.PostgresCopy"/> see <see cref="CanCopyBinaryAsync"/>).</param>
    /// <param name="untilBlock">Ends a block-range read before this position (a chunk of a table without a primary key).</param>
    public PostgresBatchReader Reader(TableSchema table, FilterPredicate filter, BatchLimits limits, IReadOnlyList<string>? upTo = null,
        BatchFormat format = BatchFormat.Decoded, long? untilBlock = null) =>
        new(Connection, table, filter, limits, upTo, format, untilBlock);

    /// <inheritdoc cref="PostgresBatchReader.CanCopyBinaryAsync"/>
    public Task<bool> CanCopyBinaryAsync(TableSchema table, CancellationToken ct) => PostgresBatchReader.CanCopyBinaryAsync(Connection, table, ct);

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
