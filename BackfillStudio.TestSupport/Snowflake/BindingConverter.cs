using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// Turns SQL API bindings (<c>{"1": {"type": "FIXED", "value": "123"}, ...}</c>, values in Snowflake's text
/// encodings) into DuckDB parameter values for the <c>?</c> placeholders, in key order.
/// </summary>
internal static partial class BindingConverter
{
    private const long NanosecondsPerTick = 100;
    private const long MillisecondsPerDay = 86_400_000;
    private const int MaxOffsetMinutes = 14 * 60;
    // TIMESTAMP_TZ values carry their UTC offset in minutes plus this, so it is never negative.
    private const int OffsetBias = 1440;

    private static readonly int UnixEpochDayNumber = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    private static readonly Dictionary<string, Func<string, object?>> Parsers = new(StringComparer.Ordinal)
    {
        ["FIXED"] = ParseFixed,
        ["REAL"] = ParseReal,
        ["TEXT"] = text => text,
        ["BOOLEAN"] = ParseBoolean,
        ["DATE"] = ParseDate,
        ["TIME"] = ParseTime,
        ["TIMESTAMP_NTZ"] = text => ParseTimestamp(text, DateTimeKind.Unspecified),
        ["TIMESTAMP_LTZ"] = text => ParseTimestamp(text, DateTimeKind.Utc),
        ["TIMESTAMP_TZ"] = ParseTimestampTz,
        ["BINARY"] = ParseBinary,
    };

    public static IReadOnlyList<object> ToParameters(JsonObject? bindings, int placeholders)
    {
        var count = bindings?.Count ?? 0;
        if (count != placeholders)
            throw SnowflakeApiException.Sql("002049", "42601",
                $"SQL compilation error: The statement has {placeholders} bind variable placeholder(s) but {count} binding(s) were given.");
        var values = new object[count];
        for (var i = 0; i < count; i++)
        {
            var key = (i + 1).ToString(CultureInfo.InvariantCulture);
            if (bindings![key] is not JsonObject binding)
                throw SnowflakeApiException.Sql("002049", "42601", $"SQL compilation error: Bind variable {key} not set.");
            values[i] = ToValue(key, binding);
        }
        return values;
    }

    private static object ToValue(string key, JsonObject binding)
    {
        var type = (JsonFields.GetString(binding, "type") ?? "").ToUpperInvariant();
        if (!Parsers.TryGetValue(type, out var parse))
            throw SnowflakeApiException.Sql("002010", "22018", $"Bind variable {key} has the unsupported type '{type}'.");
        var node = binding["value"];
        string? text = node switch
        {
            null => null,
            JsonValue value when value.TryGetValue(out string? s) => s,
            _ => node.ToJsonString(),
        };
        if (text is null) return DBNull.Value;
        return parse(text) ?? throw SnowflakeApiException.Sql("002010", "22018", $"Bind variable {key} of type {type} has an invalid value.");
    }

    private static object? ParseFixed(string text)
    {
        if (!NumericText().IsMatch(text)) return null;
        // decimal.Parse rounds digits it cannot hold; such values stay text, which DuckDB casts to the target DECIMAL exactly.
        return decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            && number.ToString(CultureInfo.InvariantCulture) == text ? number : text;
    }

    private static object? ParseReal(string text)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "inf":
                return double.PositiveInfinity;
            case "-inf":
                return double.NegativeInfinity;
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)) return number;
        return null;
    }

    private static object? ParseBoolean(string text)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "true" or "1":
                return true;
            case "false" or "0":
                return false;
            default:
                return null;
        }
    }

    /// <summary>Milliseconds since the epoch, to a date (rounding down, also before 1970).</summary>
    private static object? ParseDate(string text)
    {
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var milliseconds)) return null;
        var days = milliseconds / MillisecondsPerDay;
        if (milliseconds % MillisecondsPerDay < 0) days--;
        var dayNumber = UnixEpochDayNumber + days;
        if (dayNumber < DateOnly.MinValue.DayNumber || dayNumber > DateOnly.MaxValue.DayNumber) return null;
        return DateOnly.FromDayNumber((int)dayNumber);
    }

    /// <summary>Nanoseconds since midnight.</summary>
    private static object? ParseTime(string text)
    {
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var nanoseconds)) return null;
        if (nanoseconds >= TimeSpan.TicksPerDay * NanosecondsPerTick) return null;
        return new TimeOnly(nanoseconds / NanosecondsPerTick);
    }

    /// <summary>Nanoseconds since the epoch; parsed as decimal since years past 2262 overflow a long.</summary>
    private static DateTime? ParseTimestamp(string text, DateTimeKind kind)
    {
        if (!decimal.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var nanoseconds)) return null;
        var ticks = DateTime.UnixEpoch.Ticks + decimal.Floor(nanoseconds / NanosecondsPerTick);
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks) return null;
        return new DateTime((long)ticks, kind);
    }

    /// <summary>
    /// "&lt;nanoseconds since the epoch&gt; &lt;offset minutes + 1440&gt;". The first part already is the UTC instant,
    /// which is what DuckDB stores for TIMESTAMPTZ; the offset only has to be valid.
    /// </summary>
    private static object? ParseTimestampTz(string text)
    {
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2 || ParseTimestamp(parts[0], DateTimeKind.Utc) is not { } instant) return null;
        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var biasedOffset)) return null;
        var offsetMinutes = biasedOffset - OffsetBias;
        if (Math.Abs(offsetMinutes) > MaxOffsetMinutes) return null;
        return instant;
    }

    private static object? ParseBinary(string text)
    {
        try
        {
            return Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")]
    private static partial Regex NumericText();
}
