using System.Globalization;
using System.Text.RegularExpressions;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Common;
using Npgsql;

namespace BackfillStudio.Engine.Filters;

/// <summary>
/// Checks a filter value against a column's type. <see cref="Check"/> is the quick check the UI runs as
/// the user types; <see cref="CheckOnServerAsync"/> asks the source itself to cast the value, so a value
/// is accepted exactly when <c>col op 'value'</c> would be accepted in psql.
/// </summary>
public static partial class FilterValueParser
{
    private static readonly string[] Infinities = ["infinity", "+infinity", "-infinity"];

    /// <summary>Kinds a value filter may compare against; others allow only IS NULL / IS NOT NULL.</summary>
    public static bool SupportsValueFilters(SourceColumn column) => column.Kind is ValueKind.Int16 or ValueKind.Int32
        or ValueKind.Int64 or ValueKind.Float32 or ValueKind.Float64 or ValueKind.NumericText
        or ValueKind.Text or ValueKind.Enum or ValueKind.Bool or ValueKind.Date or ValueKind.Time
        or ValueKind.Timestamp or ValueKind.TimestampTz or ValueKind.Uuid;

    /// <summary>Why the value cannot be a value of the column's type, or null when it looks like one.</summary>
    public static string? Check(SourceColumn column, string raw)
    {
        var text = raw.Trim();
        var ok = column.Kind switch
        {
            ValueKind.Int16 => IsInteger(text, short.MinValue, short.MaxValue),
            ValueKind.Int32 => IsInteger(text, int.MinValue, int.MaxValue),
            ValueKind.Int64 => IsInteger(text, long.MinValue, long.MaxValue),
            ValueKind.Float32 or ValueKind.Float64 or ValueKind.NumericText => NumberPattern().IsMatch(text),
            ValueKind.Text or ValueKind.Enum => true,
            ValueKind.Bool => text.ToLowerInvariant() is "true" or "t" or "1" or "yes" or "y" or "on" or "false" or "f" or "0" or "no" or "n" or "off",
            // The shapes PostgreSQL reads (BC, years past 9999, 24:00 too); the server checks the calendar.
            ValueKind.Date => IsInfinity(text) || DatePattern().IsMatch(text),
            ValueKind.Time => TimePattern().IsMatch(text),
            ValueKind.Timestamp => IsInfinity(text) || TimestampPattern().IsMatch(text),
            ValueKind.TimestampTz => IsInfinity(text) || TimestampTzPattern().IsMatch(text),
            ValueKind.Uuid => Guid.TryParse(text, out _),
            _ => false,
        };
        return ok ? null : Invalid(column, raw);
    }

    /// <summary>
    /// Casts each value to its column's type in the source; a value the server refuses is a field error. So is a pattern it
    /// cannot match under the column's nondeterministic collation: ILIKE never, LIKE before PostgreSQL 18.
    /// </summary>
    public static async Task CheckOnServerAsync(NpgsqlConnection connection, TableSchema table, IReadOnlyList<BackfillFilter> filters,
        ValidationErrors errors, CancellationToken ct)
    {
        for (var i = 0; i < filters.Count; i++)
        {
            var filter = filters[i];
            if (filter.Value is null || !FilterOperators.TryParse(filter.Operator, out var op)) continue;
            var column = table.FindColumn(filter.Column)!;
            if (op.IsPattern())
            {
                if (column.NondeterministicCollation && (op == FilterOperator.ILike || connection.PostgreSqlVersion.Major < 18))
                    errors.Add($"filters[{i}].operator", $"{op.ToSymbol()} cannot match '{column.Name}' in this source: its collation is " +
                        $"nondeterministic (it finds texts equal that differ), which PostgreSQL {connection.PostgreSqlVersion} does not match " +
                        "patterns under; use = or != instead.");
                continue;
            }
            await using var cmd = new NpgsqlCommand($"SELECT {FilterPredicate.CastValue(column, "v")} IS NULL", connection);
            cmd.Parameters.Add(new NpgsqlParameter("v", NpgsqlTypes.NpgsqlDbType.Text) { Value = filter.Value });
            try
            {
                await cmd.ExecuteScalarAsync(ct);
            }
            catch (PostgresException e) when (e.SqlState.StartsWith("22", StringComparison.Ordinal))
            {
                errors.Add($"filters[{i}].value", $"{Invalid(column, filter.Value)} PostgreSQL says: {e.MessageText}");
            }
        }
    }

    private static string Invalid(SourceColumn column, string raw) =>
        $"'{Messages.Shorten(raw)}' is not a valid {ExpectedOf(column)} value for column '{column.Name}' ({column.DataType}).";

    private static string ExpectedOf(SourceColumn column) => column.Kind switch
    {
        ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64 => "integer",
        ValueKind.Float32 or ValueKind.Float64 or ValueKind.NumericText => "number",
        ValueKind.Bool => "boolean (true/false)",
        ValueKind.Date => "date (yyyy-MM-dd)",
        ValueKind.Time => "time (HH:mm[:ss])",
        ValueKind.Timestamp => "timestamp (yyyy-MM-dd[THH:mm:ss])",
        ValueKind.TimestampTz => "timestamp with time zone (ISO 8601, e.g. 2024-01-01T00:00:00Z)",
        ValueKind.Uuid => "uuid",
        _ => column.DataType,
    };

    private static bool IsInfinity(string text) => Infinities.Contains(text.ToLowerInvariant());

    private static bool IsInteger(string text, long min, long max) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max;

    [GeneratedRegex(@"^\d{4,}-\d{1,2}-\d{1,2}( BC)?$", RegexOptions.CultureInvariant)]
    private static partial Regex DatePattern();

    [GeneratedRegex(@"^\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex TimePattern();

    [GeneratedRegex(@"^\d{4,}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?( BC)?$", RegexOptions.CultureInvariant)]
    private static partial Regex TimestampPattern();

    /// <summary>A timestamp with an optional zone: Z, ±hh, ±hh:mm or ±hhmm (none means UTC).</summary>
    [GeneratedRegex(@"^\d{4,}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?)? ?(Z|[+-]\d{2}(:?\d{2})?)?( BC)?$",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex TimestampTzPattern();

    /// <summary>PostgreSQL's numeric input: any number of digits, an exponent, NaN and ±Infinity.</summary>
    [GeneratedRegex(@"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity)$|^nan$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NumberPattern();
}
