using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Destinations.DuckDb;
using BackfillStudio.Engine.Verification;
using DuckDB.NET.Data;

namespace BackfillStudio.Engine.Destinations.Parquet;

/// <summary>
/// Verification of a job's Parquet files (its own folder), read through an in-memory DuckDB. Deleting a range
/// rewrites each file that holds rows of it (under a temporary name, then renamed) without those rows.
/// </summary>
public sealed class ParquetVerifier(ParquetDestinationSettings settings, VerifyScope scope, string destination) : IDestinationVerifier
{
    private readonly DuckDbRelation _relation = new(scope, destination);
    private readonly string _directory = ParquetDestinationWriter.JobDirectory(settings, scope.TargetTable, scope.JobId);
    private DuckDBConnection? _connection;

    public IReadOnlyList<SourceColumn> ChecksumColumns => _relation.ChecksumColumns;

    public bool OrdersKeys => _relation.OrdersKeys;

    public bool SharesTarget => false;

    public Task OpenAsync(CancellationToken ct)
    {
        _connection = new DuckDBConnection("Data Source=:memory:");
        _connection.Open();
        return Task.CompletedTask;
    }

    private IReadOnlyList<string> Files => Directory.Exists(_directory)
        ? Directory.GetFiles(_directory, "*.parquet").Order(StringComparer.Ordinal).ToList()
        : [];

    /// <summary>
    /// The files as written. Not as a Hive table: DuckDB takes a folder named <c>key=value</c> anywhere in their path (a
    /// destination path <c>/lake/region=eu</c>) for a partition, whose value replaces a column of that name in every row.
    /// </summary>
    private static string Read(IEnumerable<string> files) =>
        $"read_parquet([{string.Join(", ", files.Select(Sql.Literal))}], hive_partitioning = false)";

    public Task<RangeMeasure> MeasureAsync(KeyRange range, bool checksum, CancellationToken ct)
    {
        var files = Files;
        return Task.FromResult(files.Count == 0
            ? new RangeMeasure(0, checksum ? "0" : null)
            : _relation.Measure(Connection, Read(files), range, checksum));
    }

    public Task<IReadOnlyList<string[]>> MatchingKeysAsync(KeyRange range, CancellationToken ct)
    {
        var files = Files;
        return Task.FromResult<IReadOnlyList<string[]>>(files.Count == 0 ? [] : _relation.MatchingKeys(Connection, Read(files), range));
    }

    public Task DeleteAsync(KeyRange range, CancellationToken ct)
    {
        foreach (var file in Files)
        {
            ct.ThrowIfCancellationRequested();
            if (_relation.Measure(Connection, Read([file]), range, checksum: false).Rows == 0) continue;
            var rest = $"{file}.rest.tmp";
            using (var cmd = _relation.Command(Connection,
                       $"COPY (SELECT * FROM {Read([file])} WHERE NOT COALESCE({{where}}, FALSE)) TO {Sql.Literal(rest)} (FORMAT parquet, COMPRESSION zstd)", range))
                cmd.ExecuteNonQuery();
            DurableFile.MoveIntoPlace(rest, file);
        }
        return Task.CompletedTask;
    }

    private DuckDBConnection Connection => _connection ?? throw new InvalidOperationException("OpenAsync was not called.");

    public ValueTask DisposeAsync()
    {
        _connection?.Dispose();
        return ValueTask.CompletedTask;
    }
}
