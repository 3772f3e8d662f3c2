using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Common;

namespace BackfillStudio.Engine.Destinations.Snowflake;

/// <summary>
/// PostgreSQL columns in Snowflake: the column type, the SQL API binding type and the binding's text
/// encoding (DATE in epoch milliseconds, TIME and TIMESTAMP_* in nanoseconds, BINARY in hex), and the
/// values Snowflake cannot hold (infinite or BC dates and timestamps, years after 9999, 24:00:00, numeric NaN).
/// </summary>
public static class SnowflakeTypes
{
    public const int MaxNumberPrecision = 38;

    /// <summary>NUMBER's scale is at most 37 (NUMBER(38,38) is refused).</summary>
    private const int MaxNumberScale = 37;

    /// <summary>Whether the column's numeric(p,s) is a NUMBER(p,s) in Snowflake; wider ones travel as text.</summary>
    public static bool FitsNumber(SourceColumn column) => column.FitsDecimal(MaxNumberPrecision) && column.Scale <= MaxNumberScale;

    public static string ColumnType(SourceColumn column) => column.Kind switch
    {
        ValueKind.Int16 => "NUMBER(5,0)",
        ValueKind.Int32 => "NUMBER(10,0)",
        ValueKind.Int64 => "NUMBER(19,0)",
        ValueKind.Float32 or ValueKind.Float64 => "FLOAT",
        ValueKind.NumericText when FitsNumber(column) => $"NUMBER({column.Precision},{column.Scale})",
        ValueKind.Bool => "BOOLEAN",
        ValueKind.Date => "DATE",
        ValueKind.Time => "TIME(6)",
        ValueKind.Timestamp => "TIMESTAMP_NTZ(6)",
        ValueKind.TimestampTz => "TIMESTAMP_TZ(6)",
        ValueKind.Uuid => "VARCHAR(36)",
        ValueKind.Json or ValueKind.Jsonb => "VARIANT",
        ValueKind.Bytea => "BINARY",
        ValueKind.Array => "ARRAY",
        // Unconstrained or wider numerics keep every digit as text; enums, intervals and the rest as their text form.
        _ => "VARCHAR",
    };

    public static string BindingType(SourceColumn column) => column.Kind switch
    {
        ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64 => "FIXED",
        ValueKind.NumericText when FitsNumber(column) => "FIXED",
        ValueKind.Float32 or ValueKind.Float64 => "REAL",
        ValueKind.Bool => "BOOLEAN",
        ValueKind.Date => "DATE",
        ValueKind.Time => "TIME",
        ValueKind.Timestamp => "TIMESTAMP_NTZ",
        ValueKind.TimestampTz => "TIMESTAMP_TZ",
        ValueKind.Bytea => "BINARY",
        _ => "TEXT",
    };

    /// <summary>The bound value turned into the column's type where a binding type cannot carry it (VARIANT, ARRAY).</summary>
    public static string FromBinding(SourceColumn column, string expression) => column.Kind switch
    {
        ValueKind.Json or ValueKind.Jsonb or ValueKind.Array => $"PARSE_JSON({expression})",
        _ => expression,
    };

    /// <summary>Why Snowflake cannot hold a (non-null) value exactly in the column's type, or null when it can.</summary>
    public static string? Refusal(SourceColumn column, object value) => (column.Kind, value) switch
    {
        (ValueKind.Date, int days) when PgTemporal.IsInfinite(days) || !InSnowflakeYears(days) => "is outside the dates Snowflake holds (years 1 to 9999, no infinity).",
        (ValueKind.Timestamp or ValueKind.TimestampTz, long micros) when PgTemporal.IsInfinite(micros)
            || !InSnowflakeYears(PgTemporal.DayOf(micros))
            => "is outside the timestamps Snowflake holds (years 1 to 9999, no infinity).",
        (ValueKind.Time, long micros) when micros >= PgTemporal.MicrosecondsPerDay => "is past Snowflake's last TIME (23:59:59.999999999).",
        (ValueKind.NumericText, string text) when FitsNumber(column) && SourceColumn.IsNumericSpecial(text)
            => $"is not a number that Snowflake's {ColumnType(column)} can hold.",
        (ValueKind.Json or ValueKind.Jsonb, string json) => VariantRefusal(json, mayRepeatKeys: column.Kind == ValueKind.Json),
        (ValueKind.Array, Array array) when FirstFloatWithoutJsonNumber(array) is { } element
            => $"holds the element {element}, for which the JSON of a Snowflake ARRAY has no number.",
        _ => null,
    };

    /// <summary>NaN and the infinities are no JSON numbers, and PARSE_JSON reads -0 as the NUMBER 0.</summary>
    private static string? FirstFloatWithoutJsonNumber(Array array)
    {
        foreach (var element in array)
        {
            if (element is double d && (!double.IsFinite(d) || d == 0 && double.IsNegative(d))
                || element is float f && (!float.IsFinite(f) || f == 0 && float.IsNegative(f)))
                return Convert.ToString(element, CultureInfo.InvariantCulture);
        }
        return null;
    }

    /// <summary>
    /// Why a VARIANT cannot hold the document: json (unlike jsonb) keeps duplicate keys, which an object cannot hold; and
    /// PARSE_JSON keeps a number as a NUMBER only when it has no exponent, at most 38 digits and at most 37 after the
    /// point, and otherwise as a DOUBLE, which must print back as the same number.
    /// </summary>
    private static string? VariantRefusal(string json, bool mayRepeatKeys)
    {
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json), new JsonReaderOptions { MaxDepth = 100_000 });
        var objects = mayRepeatKeys ? new Stack<HashSet<string>>() : null;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    objects?.Push(new HashSet<string>(StringComparer.Ordinal));
                    break;
                case JsonTokenType.EndObject:
                    objects?.Pop();
                    break;
                case JsonTokenType.PropertyName when objects is not null && !objects.Peek().Add(reader.GetString()!):
                    return $"has the key \"{reader.GetString()}\" twice, which a Snowflake VARIANT cannot hold.";
                case JsonTokenType.Number when !FitsNumber(reader.ValueSpan)
                                               && System.Text.Encoding.UTF8.GetString(reader.ValueSpan) is var number && !DoublePrintsBack(number):
                    return $"holds the number {Messages.Shorten(number)}, which a Snowflake VARIANT keeps only as a DOUBLE, and a DOUBLE " +
                        "does not hold it exactly.";
            }
        }
        return null;
    }

    /// <summary>Whether PARSE_JSON keeps the number as a NUMBER: no exponent, at most 38 digits, at most 37 of them after the point.</summary>
    private static bool FitsNumber(ReadOnlySpan<byte> number)
    {
        if (number.IndexOfAny((byte)'e', (byte)'E') >= 0) return false;
        var unsigned = number.TrimStart((byte)'-');
        var point = unsigned.IndexOf((byte)'.');
        var whole = (point < 0 ? unsigned : unsigned[..point]).TrimStart((byte)'0').Length;
        var scale = point < 0 ? 0 : unsigned.Length - point - 1;
        return scale <= MaxNumberScale && whole + scale <= MaxNumberPrecision;
    }

    private static bool DoublePrintsBack(string number)
    {
        var value = double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture);
        return double.IsFinite(value) && Decimal(value.ToString("R", CultureInfo.InvariantCulture)) == Decimal(number);
    }

    /// <summary>A JSON number's value as its significant digits (sign first, no leading or trailing zeros) times ten to a power.</summary>
    private static (string Digits, long Exponent) Decimal(string number)
    {
        var e = number.IndexOfAny(['e', 'E']);
        var mantissa = e < 0 ? number : number[..e];
        var exponent = e < 0 ? 0 : long.TryParse(number[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var x) ? x : long.MaxValue / 2;
        var negative = mantissa.StartsWith('-');
        var point = mantissa.IndexOf('.');
        var digits = mantissa.Replace("-", "").Replace(".", "");
        exponent -= point < 0 ? 0 : mantissa.Length - point - 1;
        var trimmed = digits.TrimEnd('0');
        exponent += digits.Length - trimmed.Length;
        trimmed = trimmed.TrimStart('0');
        return trimmed.Length == 0 ? ("0", 0) : ((negative ? "-" : "") + trimmed, exponent);
    }

    /// <summary>
    /// The collation a type as <c>DESCRIBE TABLE</c> spells it compares under (<c>VARCHAR(16777216) COLLATE 'en-ci'</c>
    /// gives 'en-ci'), or null for none and for 'utf8', which compares bytes as PostgreSQL's deterministic collations do.
    /// </summary>
    public static string? Collation(string describedType)
    {
        var at = describedType.IndexOf(" COLLATE ", StringComparison.OrdinalIgnoreCase);
        if (at < 0) return null;
        var collation = describedType[(at + " COLLATE ".Length)..].Trim();
        return collation.Trim('\'').Trim() is "" or "utf8" ? null : collation;
    }

    /// <summary>The binding text of a value that passed <see cref="Refusal"/>.</summary>
    public static string? Encode(SourceColumn column, object? value) => (column.Kind, value) switch
    {
        (_, null or DBNull) => null,
        (ValueKind.Date, int days) => ((days + (long)PgTemporal.UnixToPostgresDays) * 86_400_000).ToString(CultureInfo.InvariantCulture),
        (ValueKind.Time, long micros) => (micros * 1000).ToString(CultureInfo.InvariantCulture),
        // Nanoseconds since 1970 overflow a long after 2262, so they are computed in 128 bits.
        (ValueKind.Timestamp, long micros) => Nanoseconds(micros),
        // timestamptz is UTC: offset 0, which the SQL API writes as 0 + 1440 minutes.
        (ValueKind.TimestampTz, long micros) => $"{Nanoseconds(micros)} 1440",
        (_, string s) => s,
        (_, bool b) => b ? "true" : "false",
        (_, short or int or long) => Convert.ToString(value, CultureInfo.InvariantCulture),
        (_, float f) => Real(f, f.ToString("R", CultureInfo.InvariantCulture)),
        (_, double d) => Real(d, d.ToString("R", CultureInfo.InvariantCulture)),
        (_, Guid g) => g.ToString(),
        (_, byte[] bytes) => Convert.ToHexString(bytes),
        (_, Array array) => JsonSerializer.Serialize(array, array.GetType()),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static bool InSnowflakeYears(long days) => PgTemporal.Civil(days).Year is >= 1 and <= 9999;

    private static string Nanoseconds(long micros) =>
        (((Int128)micros + PgTemporal.UnixToPostgresMicroseconds) * 1000).ToString(CultureInfo.InvariantCulture);

    private static string Real(double value, string finite) => double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "inf"
        : double.IsNegativeInfinity(value) ? "-inf"
        : finite;
}
