using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Verification;
using DuckDB.NET.Data;

namespace BackfillStudio.Engine.Destinations.DuckDb;

/// <summary>Verification in a DuckDB database file, taking turns with writers of the same file.</summary>
public sealed class DuckDbVerifier(DuckDbDestinationSettings settings, VerifyScope scope, string destination) : IDestinationVerifier
{
    private readonly DuckDbRelation _relation = new(scope, destination);
    private DuckDBConnection? _connection;

    private string TargetSql => $"{Sql.Ident(settings.Schema)}.{Sql.Ident(scope.TargetTable)}";

    public IReadOnlyList<SourceColumn> ChecksumColumns => _relation.ChecksumColumns;

    public bool OrdersKeys => _relation.OrdersKeys;

    public Task OpenAsync(CancellationToken ct)
    {
        if (!File.Exists(settings.Path)) throw new InvalidOperationException($"The DuckDB file {settings.Path} does not exist.");
        _connection = new DuckDBConnection($"Data Source={Path.GetFullPath(settings.Path)}");
        _connection.Open();
        return Task.CompletedTask;
    }

    public async Task<RangeMeasure> MeasureAsync(KeyRange range, bool checksum, CancellationToken ct)
    {
        RangeMeasure? measure = null;
        await DuckDbFileLocks.RunAsync(settings.Path, () => measure = _relation.Measure(Connection, TargetSql, range, checksum), ct);
        return measure!;
    }

    public Task DeleteAsync(KeyRange range, CancellationToken ct) => DuckDbFileLocks.RunAsync(settings.Path, () =>
    {
        using var cmd = _relation.Command(Connection, $"DELETE FROM {TargetSql} WHERE {{where}}", range);
        cmd.ExecuteNonQuery();
    }, ct);

    private DuckDBConnection Connection => _connection ?? throw new InvalidOperationException("OpenAsync was not called.");

    public ValueTask DisposeAsync()
    {
        _connection?.Dispose();
        return ValueTask.CompletedTask;
    }
}
