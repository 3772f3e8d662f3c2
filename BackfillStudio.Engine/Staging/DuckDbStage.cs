using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using DuckDB.NET.Data;

namespace BackfillStudio.Engine.Staging;

/// <summary>
/// A job's own in-memory DuckDB holding the current batch in table <c>batch</c>. The table is
/// made anew for each batch so memory stays bounded by one batch, not the whole backfill.
/// </summary>
public sealed class DuckDbStage : IDisposable
{
    public const string Table = "batch";

    private readonly TableSchema _table;
    private readonly string _columns;

    public DuckDBConnection Connection { get; }

    private DuckDbStage(DuckDBConnection connection, TableSchema table)
    {
        Connection = connection;
        _table = table;
        _columns = DuckDbTypes.StageColumns(table.Columns);
    }

    public static DuckDbStage Create(TableSchema table, string memoryLimit)
    {
        var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        try
        {
            Configure(connection, memoryLimit);
            return new DuckDbStage(connection, table);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Replaces the staged batch with <paramref name="batch"/>'s rows. The table is made anew: DuckDB frees a dropped table's
    /// blocks, while deleted rows keep theirs (with 1 MB values the stage ran out of its memory limit after a few batches).
    /// </summary>
    public void Load(Batch batch)
    {
        Execute(Connection, $"CREATE OR REPLACE TABLE {Table} ({_columns})");
        DuckDbRowAppender.Append(Connection, "memory", "main", Table, _table.Columns, batch);
    }

    /// <summary>A SELECT of the staged batch converted to the target types.</summary>
    public string SelectConverted() => $"SELECT {string.Join(", ", _table.Columns.Select(c => $"{DuckDbTypes.Convert(c)} AS {Sql.Ident(c.Name)}"))} FROM {Table}";

    /// <summary>
    /// Sets what every DuckDB database of a job runs with: its memory limit, which bounds DuckDB's buffer pool (otherwise
    /// up to 80% of RAM), and one thread. With more, the calling thread polls DuckDB's task queue while a worker runs the
    /// statement: on two cores that spinning took from the source's backend (a Parquet job's engine used 5.7 core-seconds
    /// for 2M rows with DuckDB's default of one thread per core, 4.9 with one). A job's chunks run side by side anyway.
    /// </summary>
    public static void Configure(DuckDBConnection connection, string memoryLimit) =>
        Execute(connection, $"SET memory_limit = {Sql.Literal(memoryLimit)}; SET threads = 1");

    public static void Execute(DuckDBConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public void Dispose() => Connection.Dispose();
}
