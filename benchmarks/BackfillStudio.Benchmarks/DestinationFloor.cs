using System.Diagnostics;
using BackfillStudio.Engine.Staging;
using DuckDB.NET.Data;

namespace BackfillStudio.Benchmarks;

/// <summary>
/// What DuckDB costs by itself: the rows a DuckDB job wrote, held in memory and written again in batches of the engine's
/// size, with no source and no engine in between: into a fresh DuckDB file (the job's table, primary key included, one
/// transaction per batch, the same memory limit) and into Parquet files of one batch each (zstd, as the Parquet destination
/// writes). A job into either destination cannot be faster than this on the same machine, whatever the engine does.
/// </summary>
internal static class DestinationFloor
{
    public const int BatchRows = 10_000;

    public static (Result DuckDb, Result Parquet) Measure(string jobFile, string table, int tableRows, string against, string folder)
    {
        using var memory = new DuckDBConnection("Data Source=:memory:");
        memory.Open();
        DuckDbStage.Execute(memory, $"ATTACH '{jobFile}' AS job (READ_ONLY)");
        var ddl = Scalar(memory, $"SELECT sql FROM duckdb_tables() WHERE database_name = 'job' AND schema_name = 'main' AND table_name = '{table}'");
        DuckDbStage.Execute(memory, $"CREATE TABLE held AS SELECT * FROM job.main.{table}");
        DuckDbStage.Execute(memory, "DETACH job");
        var rows = long.Parse(Scalar(memory, "SELECT count(*) FROM held"), System.Globalization.CultureInfo.InvariantCulture);

        var floorFile = Path.Combine(folder, $"floor_{table}_{tableRows}.duckdb");
        DuckDbStage.Execute(memory, $"ATTACH '{floorFile}' AS floor");
        DuckDbStage.Execute(memory, "USE floor");
        DuckDbStage.Execute(memory, ddl);
        DuckDbStage.Execute(memory, "USE memory");
        DuckDbStage.Execute(memory, "SET memory_limit = '256MB'");
        var duckDbCpu = CpuMeter.Start();
        var clock = Stopwatch.StartNew();
        for (long start = 0; start < rows; start += BatchRows)
        {
            DuckDbStage.Execute(memory, "BEGIN TRANSACTION");
            DuckDbStage.Execute(memory, $"INSERT INTO floor.main.{table} SELECT * FROM held WHERE rowid >= {start} AND rowid < {start + BatchRows}");
            DuckDbStage.Execute(memory, "COMMIT");
        }
        DuckDbStage.Execute(memory, "DETACH floor");
        var duckDb = Floor(tableRows, rows, "duckdb", clock.Elapsed, duckDbCpu.Stop(), against);

        var parquetFolder = Path.Combine(folder, $"floor_{table}_{tableRows}_parquet");
        Directory.CreateDirectory(parquetFolder);
        var parquetCpu = CpuMeter.Start();
        clock.Restart();
        for (long start = 0; start < rows; start += BatchRows)
            DuckDbStage.Execute(memory, $"COPY (SELECT * FROM held WHERE rowid >= {start} AND rowid < {start + BatchRows}) " +
                            $"TO '{Path.Combine(parquetFolder, $"part-{start / BatchRows:D6}.parquet")}' (FORMAT parquet, COMPRESSION zstd)");
        return (duckDb, Floor(tableRows, rows, "parquet", clock.Elapsed, parquetCpu.Stop(), against));
    }

    private static Result Floor(int tableRows, long rows, string destination, TimeSpan elapsed, CpuUse cpu, string against) =>
        new(tableRows, rows, $"  DuckDB alone → {destination} (floor)", elapsed, null, against, cpu, IsFloor: true);

    private static string Scalar(DuckDBConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
    }
}
