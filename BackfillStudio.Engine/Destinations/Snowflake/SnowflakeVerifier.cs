using System.Globalization;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Verification;

namespace BackfillStudio.Engine.Destinations.Snowflake;

/// <summary>
/// Verification in Snowflake with its own functions (MD5, TO_NUMBER with a hexadecimal format, DATE_PART), over the
/// canonical text of <see cref="PostgresCanonical"/>: integers, booleans, uuids, text, numerics, dates and
/// timestamps are hashed; floats, times, binary, VARIANT and ARRAY values print differently and are compared by count only.
/// </summary>
public sealed class SnowflakeVerifier(SnowflakeSqlApiClient client, SnowflakeDestinationSettings settings, VerifyScope scope, string destination)
    : IDestinationVerifier
{
    private const string UnixEpoch2000 = "946684800000000";

    public IReadOnlyList<SourceColumn> ChecksumColumns { get; } = scope.Table.Columns.Where(c => Canonical(c, "x") is not null).ToList();

    public bool OrdersKeys { get; } = scope.Table.PrimaryKey.All(c => Ordinal(c, "x") is not null);

    private string TargetSql => $"{SnowflakeSql.Ident(settings.Name(settings.Schema))}.{SnowflakeSql.Ident(settings.Name(scope.TargetTable))}";

    private string Ident(string column) => SnowflakeSql.Ident(settings.Name(column));

    private static string? Ordinal(SourceColumn column, string q) => column.Kind switch
    {
        ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64 => q,
        ValueKind.Date => $"DATEDIFF(day, '2000-01-01'::DATE, {q})",
        ValueKind.Timestamp or ValueKind.TimestampTz => $"(DATE_PART(EPOCH_MICROSECOND, {q}) - {UnixEpoch2000})",
        _ => null,
    };

    private static string? Canonical(SourceColumn column, string q) => column.Kind switch
    {
        ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64 => PostgresCanonical.ScaleFree($"TO_VARCHAR({q})"),
        ValueKind.Bool => $"TO_VARCHAR({q})",
        ValueKind.Date or ValueKind.Timestamp or ValueKind.TimestampTz => $"TO_VARCHAR({Ordinal(column, q)})",
        ValueKind.NumericText when SnowflakeTypes.FitsNumber(column) => PostgresCanonical.ScaleFree($"TO_VARCHAR({q})"),
        ValueKind.NumericText when column.HasFixedScale => PostgresCanonical.ScaleFree(q),
        ValueKind.Uuid or ValueKind.Text or ValueKind.Enum or ValueKind.OtherText or ValueKind.NumericText => q,
        _ => null,
    };

    /// <summary>
    /// The canonical text a filter compares, under the binary collation: a column may carry another one (a schema's
    /// <c>DEFAULT_DDL_COLLATION</c>, a target made before), under which status = 'open' matched 'OPEN' too, and a repair
    /// would have deleted such rows of a full copy sharing the table.
    /// </summary>
    private static string? FilterText(SourceColumn column, string q) => Canonical(column, q) is { } text ? $"COLLATE({text}, 'utf8')" : null;

    public Task OpenAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task<RangeMeasure> MeasureAsync(KeyRange range, bool checksum, CancellationToken ct)
    {
        var list = "COUNT(*)";
        if (checksum)
        {
            var row = string.Join(" || ',' || ", ChecksumColumns.Select(c => Canonical(c, Ident(c.Name)))
                .Select(e => $"COALESCE(TO_VARCHAR(LENGTH({e})) || ':' || {e}, '~')"));
            list += $", TO_VARCHAR(COALESCE(SUM(TO_NUMBER(SUBSTR(MD5({(row.Length == 0 ? "''" : row)}), 1, 15), 'XXXXXXXXXXXXXXX')), 0))";
        }
        var (where, bindings) = Where(range);
        var result = await client.ExecuteAsync($"SELECT {list} FROM {TargetSql} WHERE {where}", bindings, ct);
        var values = result.Rows.Single();
        return new RangeMeasure(long.Parse(values[0]!, CultureInfo.InvariantCulture), checksum ? values[1] : null);
    }

    public async Task<IReadOnlyList<string[]>> MatchingKeysAsync(KeyRange range, CancellationToken ct)
    {
        var (where, bindings) = Where(range);
        var keys = RepairKeys.List(scope.Table, c => Canonical(c, Ident(c.Name)), destination);
        return (await client.ExecuteAsync($"SELECT {keys} FROM {TargetSql} WHERE {where}", bindings, ct)).Rows
            .Select(row => row.Select(value => value!).ToArray()).ToList();
    }

    public async Task DeleteAsync(KeyRange range, CancellationToken ct)
    {
        var (where, bindings) = Where(range);
        await client.ExecuteAsync($"DELETE FROM {TargetSql} WHERE {where}", bindings, ct);
    }

    private (string Sql, List<SnowflakeBinding> Bindings) Where(KeyRange range)
    {
        var bindings = new List<SnowflakeBinding>();
        string Bind(object value)
        {
            bindings.Add(value is long number
                ? new SnowflakeBinding("FIXED", number.ToString(CultureInfo.InvariantCulture))
                : new SnowflakeBinding("TEXT", (string)value));
            return "?";
        }
        var filter = PortableFilter.Build(scope.Resolved, FilterText, Ordinal, Bind, like: null, Ident, destination);
        if (range.IsWhole) return (filter, bindings);
        var keys = scope.Table.PrimaryKey.Select(c => Ordinal(c, Ident(c.Name))!).ToList();
        return ($"({filter}) AND " + KeyOrder.Predicate(range, keys, (side, i) => Bind((side == "lo" ? range.After! : range.UpTo!).Ordinals![i])), bindings);
    }

    public ValueTask DisposeAsync()
    {
        client.Dispose();
        return ValueTask.CompletedTask;
    }
}
