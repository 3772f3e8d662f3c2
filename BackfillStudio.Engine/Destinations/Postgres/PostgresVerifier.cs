using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Verification;
using Npgsql;

namespace BackfillStudio.Engine.Destinations.Postgres;

/// <summary>
/// Verification in a PostgreSQL destination: the same canonical text and the same filters as the source, since the
/// target has the source's built-in types (enums and other user-defined types are text there, so only their
/// equality and patterns are compared). Columns the target generates itself are compared by count only.
/// </summary>
public sealed class PostgresVerifier : IDestinationVerifier
{
    private readonly PostgresDestinationSettings _settings;
    private readonly VerifyScope _scope;
    private readonly FilterPredicate _filter;
    private NpgsqlConnection? _connection;
    private readonly string _destination;
    private IReadOnlyList<SourceColumn> _checksumColumns = [];
    /// <summary>
    /// The columns of a target made before that have another type than the job writes, with that type: a wider one, which
    /// the writer checked holds each value. Not money: read back as money, a value would take the verifying session's
    /// lc_monetary.
    /// </summary>
    private Dictionary<string, string> _otherTypes = [];

    public PostgresVerifier(PostgresDestinationSettings settings, VerifyScope scope, string destination)
    {
        _settings = settings;
        _scope = scope;
        if (scope.Resolved.FirstOrDefault(f => !OrdersAsSource(f.Column) && f.Operator is FilterOperator.GreaterThan or FilterOperator.LessThan
                or FilterOperator.GreaterOrEqual or FilterOperator.LessOrEqual) is { } ordered)
            throw new NotSupportedException($"The job's filter {ordered.Describe} orders text (or a type that {destination} holds as text), " +
                "which the destination may sort in another collation; verify a backfill without that filter.");
        if (scope.Resolved.FirstOrDefault(f => f.Operator == FilterOperator.ILike) is { } folded)
            throw new NotSupportedException($"The job's filter {folded.Describe} folds case under the source column's collation, which " +
                $"{destination} may not share (under \"C\" only ASCII letters fold, so 'É' and 'é' differ); verify a backfill without that filter.");
        if (scope.Resolved.FirstOrDefault(f => f.Column.NondeterministicCollation && f.Operator.TakesValue()) is { } lax)
            throw LooseFilter(lax, "the source holds", $"{destination} does not");
        _destination = destination;
        _filter = FilterPredicate.Build(scope.Table with { Columns = scope.Table.Columns.Select(AsTarget).ToList() }, scope.Filters);
    }

    /// <summary>A value filter on a column that one side compares under a collation finding texts equal that differ: the sides' rows would differ.</summary>
    private static NotSupportedException LooseFilter(VerifyFilter filter, string holder, string other) => new(
        $"The job's filter {filter.Describe} compares {filter.Column.Name}, which {holder} under a collation that finds texts equal that " +
        $"differ (as a case-insensitive one finds 'abc' and 'ABC'), and {other}; verify a backfill without that filter.");

    /// <summary>A column as the target holds it: user-defined types are text there.</summary>
    private static SourceColumn AsTarget(SourceColumn c) => c.IsBuiltinType ? c : c with { Kind = ValueKind.Text, ComparisonType = "text" };

    private string TargetSql => $"{Sql.Ident(_settings.Schema)}.{Sql.Ident(_scope.TargetTable)}";

    public IReadOnlyList<SourceColumn> ChecksumColumns => _checksumColumns;

    /// <summary>
    /// Key ranges are compared only for keys the target orders as the source does: text sorts by the target database's
    /// collation, which may not be the source's, and a range deleted before a repair must hold exactly the source's rows.
    /// </summary>
    public bool OrdersKeys => _scope.Table.PrimaryKey.All(OrdersAsSource);

    /// <summary>Whether the target orders the column's values as the source does: its own built-in type, not sorted by a collation.</summary>
    private static bool OrdersAsSource(SourceColumn column) => column.IsBuiltinType && column.Kind is not (ValueKind.Text or ValueKind.Array);

    public async Task OpenAsync(CancellationToken ct)
    {
        _connection = await _settings.Connection.OpenAsync($"BackfillStudio verify job {_scope.JobId}", ct);
        await using var cmd = new NpgsqlCommand($"""
            SELECT a.attname, a.attgenerated = '', {PostgresCatalog.NondeterministicSql("a.attcollation")}, format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a
            WHERE a.attrelid = to_regclass(@table) AND a.attnum > 0 AND NOT a.attisdropped
            """, _connection);
        cmd.Parameters.AddWithValue("table", TargetSql);
        var written = new HashSet<string>();
        var loose = new HashSet<string>();
        var types = new Dictionary<string, string>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                if (reader.GetBoolean(1)) written.Add(reader.GetString(0));
                if (reader.GetBoolean(2)) loose.Add(reader.GetString(0));
                types[reader.GetString(0)] = reader.GetString(3);
            }
        }
        _otherTypes = types.Where(t => _scope.Table.FindColumn(t.Key) is { IsMoney: false } c && t.Value != PostgresTypes.TargetType(c))
            .ToDictionary();
        if (written.Count == 0) throw new InvalidOperationException($"The target table {_settings.Schema}.{_scope.TargetTable} does not exist.");
        // A target made before may compare a column under a collation of its own: its matching rows would be others than
        // the source's, and a repair would delete rows that the source keeps apart ('OPEN' for a filter = 'open').
        if (_scope.Resolved.FirstOrDefault(f => loose.Contains(f.Column.Name) && f.Operator.TakesValue()) is { } lax)
            throw LooseFilter(lax, $"{_destination} holds", "the source does not");
        _checksumColumns = _scope.Table.Columns.Where(c => written.Contains(c.Name)).ToList();
    }

    /// <summary>
    /// A column's canonical text, read back in the source's type where the target holds it in another: a real in a double
    /// precision column prints 0.10000000149011612, the source's 0.1, and the checksum differed on every verification.
    /// Only a value the source's type holds exactly is read back so; another (a change in the extra digits, 1.2501 in a
    /// numeric(14,4) for a numeric(10,2)) keeps a text no source value has, and its range differs.
    /// </summary>
    private string Canonical(SourceColumn column)
    {
        var q = Sql.Ident(column.Name);
        if (!_otherTypes.TryGetValue(column.Name, out var targetType)) return PostgresCanonical.Canonical(column, q);
        var asSource = $"CAST({q} AS {PostgresTypes.TargetType(column)})";
        return $"CASE WHEN CAST({asSource} AS {targetType}) IS NOT DISTINCT FROM {q} THEN {PostgresCanonical.Canonical(column, asSource)} " +
               $"ELSE 'not a {PostgresTypes.TargetType(column)}: ' || CAST({q} AS text) END";
    }

    public async Task<RangeMeasure> MeasureAsync(KeyRange range, bool checksum, CancellationToken ct)
    {
        var sum = checksum ? ", " + PostgresCanonical.RowChecksum(_checksumColumns.Select(Canonical)) : "";
        await using var cmd = Command($"SELECT count(*){sum} FROM {TargetSql} WHERE {Where(range)}", range);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new RangeMeasure(reader.GetInt64(0), checksum ? reader.GetString(1) : null);
    }

    public async Task<IReadOnlyList<string[]>> MatchingKeysAsync(KeyRange range, CancellationToken ct)
    {
        var keys = RepairKeys.List(_scope.Table, Canonical, _destination);
        await using var cmd = Command($"SELECT {keys} FROM {TargetSql} WHERE {Where(range)}", range);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return RepairKeys.ReadAll(reader);
    }

    public async Task DeleteAsync(KeyRange range, CancellationToken ct)
    {
        await using var cmd = Command($"DELETE FROM {TargetSql} WHERE {Where(range)}", range);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private string Where(KeyRange range) =>
        $"({_filter.Sql}) AND {SourceVerifier.RangeSql(_scope.Table, range, "", PostgresTypes.TargetType)}";

    private NpgsqlCommand Command(string sql, KeyRange range)
    {
        var cmd = new NpgsqlCommand(sql, _connection ?? throw new InvalidOperationException("OpenAsync was not called."));
        _filter.AddParameters(cmd);
        SourceVerifier.AddRangeParameters(cmd, range);
        return cmd;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
    }
}
