using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Verification;
using DuckDB.NET.Data;

namespace BackfillStudio.Engine.Destinations.DuckDb;

/// <summary>
/// Verification in a DuckDB database file, taking turns with writers of the same file. The file is opened for each
/// measurement only, so between ranges (and once the job is COMPLETED) other programs can open it.
/// </summary>
public sealed class DuckDbVerifier(DuckDbDestinationSettings settings, VerifyScope scope, string destination) : IDestinationVerifier
{
    private readonly DuckDbRelation _relation = new(scope, destination);

    private string TargetSql => $"{Sql.Ident(settings.Schema)}.{Sql.Ident(scope.TargetTable)}";

    public IReadOnlyList<SourceColumn> ChecksumColumns => _relation.ChecksumColumns;

    public bool OrdersKeys => _relation.OrdersKeys;

    public Task OpenAsync(CancellationToken ct) => File.Exists(settings.Path)
        ? Task.CompletedTask
        : throw new InvalidOperationException($"The DuckDB file {settings.Path} does not exist.");

    public async Task<RangeMeasure> MeasureAsync(KeyRange range, bool checksum, CancellationToken ct)
    {
        RangeMeasure? measure = null;
        await WithConnectionAsync(connection => measure = _relation.Measure(connection, TargetSql, range, checksum), ct);
        return measure!;
    }

    public async Task<IReadOnlyList<string[]>> MatchingKeysAsync(KeyRange range, CancellationToken ct)
    {
        IReadOnlyList<string[]> keys = [];
        await WithConnectionAsync(connection => keys = _relation.MatchingKeys(connection, TargetSql, range), ct);
        return keys;
    }

    public Task DeleteAsync(KeyRange range, CancellationToken ct) => WithConnectionAsync(connection =>
    {
        using var cmd = _relation.Command(connection, $"DELETE FROM {TargetSql} WHERE {{where}}", range);
        cmd.ExecuteNonQuery();
    }, ct);

    private Task WithConnectionAsync(Action<DuckDBConnection> action, CancellationToken ct) => DuckDbFileLocks.RunAsync(settings.Path, () =>
    {
        using var connection = new DuckDBConnection(DuckDbDestinationSettings.ConnectionString(settings.Path));
        connection.Open();
        action(connection);
    }, ct);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
