using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Verification;
using DuckDB.NET.Data;

namespace BackfillStudio.Engine.Destinations.DuckDb;

/// <summary>
/// A job's rows as DuckDB reads them (a DuckDB table, or Parquet files through DuckDB), measured for verification:
/// each column's canonical text and ordinal in DuckDB's types (see <see cref="PostgresCanonical"/> for the PostgreSQL
/// side), the job's filters (<see cref="PortableFilter"/>) and key ranges over ordinals. Floats and arrays print
/// differently in DuckDB and are compared by count only.
/// </summary>
public sealed class DuckDbRelation(VerifyScope scope, string destination)
{
    private const string UnixEpoch2000 = "946684800000000";

    public IReadOnlyList<SourceColumn> ChecksumColumns { get; } = scope.Table.Columns.Where(c => Canonical(c, "x") is not null).ToList();

    public bool OrdersKeys { get; } = scope.Table.PrimaryKey.All(c => Ordinal(c, "x") is not null);

    public static string? Ordinal(SourceColumn column, string q) => column.Kind switch
    {
        ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64 => $"CAST({q} AS BIGINT)",
        ValueKind.Date => Finite(q, $"({q} - DATE '2000-01-01')"),
        ValueKind.Timestamp or ValueKind.TimestampTz => Finite(q, $"(epoch_us({q}) - {UnixEpoch2000})"),
        _ => null,
    };

    public static string? Canonical(SourceColumn column, string q) => column.Kind switch
    {
        ValueKind.Date or ValueKind.Timestamp or ValueKind.TimestampTz =>
            $"CASE WHEN isfinite({q}) THEN CAST({Ordinal(column, q)} AS VARCHAR) ELSE CAST({q} AS VARCHAR) END",
        ValueKind.Time => $"CAST(epoch_us({q}) AS VARCHAR)",
        ValueKind.Bytea => $"lower(hex({q}))",
        ValueKind.Float32 or ValueKind.Float64 or ValueKind.Array => null,
        _ when column.ComparesScaleFree => PostgresCanonical.ScaleFree($"CAST({q} AS VARCHAR)"),
        _ => $"CAST({q} AS VARCHAR)",
    };

    /// <summary>
    /// A column's canonical text as the filters compare it: as bytes, as PostgreSQL's deterministic collations do. A table
    /// made before may declare a column under a collation (<c>VARCHAR COLLATE NOCASE</c>), which a cast keeps: there the
    /// filter status = 'open' matched 'OPEN' too, and a repair would have deleted such rows of a full copy sharing the table.
    /// </summary>
    private static string? FilterText(SourceColumn column, string q) => Canonical(column, q) is { } text ? $"decode(encode({text}))" : null;

    private static string Finite(string q, string ordinal) =>
        $"CASE WHEN {q} IS NULL THEN NULL WHEN isfinite({q}) THEN {ordinal} WHEN CAST({q} AS VARCHAR) = 'infinity' THEN {PostgresCanonical.Infinity} ELSE {PostgresCanonical.MinusInfinity} END";

    /// <summary>A command over <paramref name="relation"/> restricted to the range's rows that match the job's filters: <c>{where}</c> in <paramref name="sql"/>.</summary>
    public DuckDBCommand Command(DuckDBConnection connection, string sql, KeyRange range)
    {
        var cmd = connection.CreateCommand();
        string Bind(object value)
        {
            var name = $"p{cmd.Parameters.Count}";
            cmd.Parameters.Add(new DuckDBParameter(name, value));
            return $"${name}";
        }
        var filter = PortableFilter.Build(scope.Resolved, FilterText, Ordinal, Bind, (text, pattern) => $"{text} LIKE {pattern} ESCAPE '\\'",
            Sql.Ident, destination);
        var keys = scope.Table.PrimaryKey.Select(c => Ordinal(c, Sql.Ident(c.Name))!).ToList();
        var where = range.IsWhole ? filter : $"({filter}) AND " + KeyOrder.Predicate(range, keys,
            (side, i) => Bind((side == "lo" ? range.After! : range.UpTo!).Ordinals![i]));
        cmd.CommandText = sql.Replace("{where}", where);
        return cmd;
    }

    /// <inheritdoc cref="IDestinationVerifier.MatchingKeysAsync"/>
    public List<string[]> MatchingKeys(DuckDBConnection connection, string relation, KeyRange range)
    {
        using var cmd = Command(connection, $"SELECT {RepairKeys.List(scope.Table, c => Canonical(c, Sql.Ident(c.Name)), destination)} FROM {relation} WHERE {{where}}", range);
        using var reader = cmd.ExecuteReader();
        return RepairKeys.ReadAll(reader);
    }

    /// <summary>The SELECT list measuring the rows: count, then the checksum when asked.</summary>
    public string MeasureList(bool checksum)
    {
        if (!checksum) return "count(*)";
        var row = string.Join(" || ',' || ", ChecksumColumns.Select(c => Canonical(c, Sql.Ident(c.Name)))
            .Select(e => $"COALESCE(CAST(length({e}) AS VARCHAR) || ':' || {e}, '~')"));
        return $"count(*), CAST(COALESCE(sum(CAST('0x' || substr(md5({(row.Length == 0 ? "''" : row)}), 1, 15) AS BIGINT)), 0) AS VARCHAR)";
    }

    public RangeMeasure Measure(DuckDBConnection connection, string relation, KeyRange range, bool checksum)
    {
        using var cmd = Command(connection, $"SELECT {MeasureList(checksum)} FROM {relation} WHERE {{where}}", range);
        using var reader = cmd.ExecuteReader();
        reader.Read();
        return new RangeMeasure(Convert.ToInt64(reader.GetValue(0)), checksum ? reader.GetString(1) : null);
    }
}
