using System.Globalization;
using BackfillStudio.Engine.Catalog;

namespace BackfillStudio.Engine.Jobs;

/// <summary>Turns a filter value into the typed parameter that is sent to PostgreSQL for a column's type.</summary>
public static class FilterValueParser
{
    private static readonly string[] DateFormats = ["yyyy-MM-dd"];

    /// <summary>Kinds a value filter may compare against; others allow only IS NULL / IS NOT NULL.</summary>
    public static bool SupportsValueFilters(SourceColumn column) => column.Kind is ValueKind.Int16 or ValueKind.Int32
        or ValueKind.Int64 or ValueKind.Float32 or ValueKind.Float64 or ValueKind.Decimal or ValueKind.NumericText
        or ValueKind.Text or ValueKind.Enum or ValueKind.Bool or ValueKind.Date or ValueKind.Time
        or ValueKind.Timestamp or ValueKind.TimestampTz or ValueKind.Uuid;

    public static bool TryParse(SourceColumn column, string raw, out object value, out string error)
    {
        value = raw;
        error = "";
        var text = raw.Trim();
        var ok = column.Kind switch
        {
            ValueKind.Int16 => TryInteger(text, short.MinValue, short.MaxValue, v => (short)v, out value),
            ValueKind.Int32 => TryInteger(text, int.MinValue, int.MaxValue, v => (int)v, out value),
            ValueKind.Int64 => TryInteger(text, long.MinValue, long.MaxValue, v => v, out value),
            ValueKind.Float32 or ValueKind.Float64 => TryParsed(double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d), d, out value),
            ValueKind.Decimal or ValueKind.NumericText => TryParsed(decimal.TryParse(text, NumberStyles.Number | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var m), m, out value),
            ValueKind.Text or ValueKind.Enum => TryParsed(true, raw, out value),
            ValueKind.Bool => TryBool(text, out value),
            ValueKind.Date => TryParsed(DateOnly.TryParseExact(text, DateFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var date), date, out value),
            ValueKind.Time => TryParsed(TimeOnly.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time), time, out value),
            ValueKind.Timestamp => TryTimestamp(text, out value),
            ValueKind.TimestampTz => TryTimestampTz(text, out value),
            ValueKind.Uuid => TryParsed(Guid.TryParse(text, out var g), g, out value),
            _ => false,
        };
        if (!ok) error = $"'{Truncate(raw)}' is not a valid {ExpectedOf(column)} value for column '{column.Name}' ({column.DataType}).";
        return ok;
    }

    private static string ExpectedOf(SourceColumn column) => column.Kind switch
    {
        ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64 => "integer",
        ValueKind.Float32 or ValueKind.Float64 or ValueKind.Decimal or ValueKind.NumericText => "number",
        ValueKind.Bool => "boolean (true/false)",
        ValueKind.Date => "date (yyyy-MM-dd)",
        ValueKind.Time => "time (HH:mm[:ss])",
        ValueKind.Timestamp => "timestamp (yyyy-MM-dd[THH:mm:ss])",
        ValueKind.TimestampTz => "timestamp with time zone (ISO 8601, e.g. 2024-01-01T00:00:00Z)",
        ValueKind.Uuid => "uuid",
        _ => column.DataType,
    };

    private static string Truncate(string raw) => raw.Length <= 60 ? raw : raw[..60] + "…";

    private static bool TryParsed<T>(bool ok, T parsed, out object value)
    {
        value = parsed!;
        return ok;
    }

    private static bool TryInteger(string text, long min, long max, Func<long, object> convert, out object value)
    {
        value = 0;
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            return false;
        value = convert(v);
        return true;
    }

    private static bool TryBool(string text, out object value)
    {
        value = false;
        switch (text.ToLowerInvariant())
        {
            case "true" or "t" or "1" or "yes" or "y": value = true; return true;
            case "false" or "f" or "0" or "no" or "n": value = false; return true;
            default: return false;
        }
    }

    private static bool TryTimestamp(string text, out object value)
    {
        value = default(DateTime);
        if (!DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var ts) || ts.Kind != DateTimeKind.Unspecified)
            return false;
        value = ts;
        return true;
    }

    private static bool TryTimestampTz(string text, out object value)
    {
        value = default(DateTime);
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts))
            return false;
        value = ts.UtcDateTime;
        return true;
    }
}
