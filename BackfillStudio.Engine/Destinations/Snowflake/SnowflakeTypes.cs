using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using BackfillStudio.Engine.Catalog;

namespace BackfillStudio.Engine.Destinations.Snowflake;

/// <summary>
/// PostgreSQL columns in Snowflake: the column type, the SQL API binding type and the binding's text
/// encoding (DATE in epoch milliseconds, TIME and TIMESTAMP_* in nanoseconds, BINARY in hex).
/// </summary>
public static class SnowflakeTypes
{
    public const int MaxNumberPrecision = 38;

    private static readonly DateTime Epoch = DateTime.UnixEpoch;
    private static readonly JsonSerializerOptions ArrayJson = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static string ColumnType(SourceColumn column) => column.Kind switch
    {
        ValueKind.Int16 => "NUMBER(5,0)",
        ValueKind.Int32 => "NUMBER(10,0)",
        ValueKind.Int64 => "NUMBER(19,0)",
        ValueKind.Float32 or ValueKind.Float64 => "FLOAT",
        ValueKind.Decimal => $"NUMBER({column.Precision},{column.Scale})",
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
        ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64 or ValueKind.Decimal => "FIXED",
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

    public static string? Encode(object? value) => value switch
    {
        null or DBNull => null,
        string s => s,
        bool b => b ? "true" : "false",
        short or int or long or decimal => Convert.ToString(value, CultureInfo.InvariantCulture),
        float f => Real(f, f.ToString("R", CultureInfo.InvariantCulture)),
        double d => Real(d, d.ToString("R", CultureInfo.InvariantCulture)),
        DateOnly date => ((long)(date.ToDateTime(TimeOnly.MinValue) - Epoch).TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
        TimeOnly time => (time.Ticks * 100).ToString(CultureInfo.InvariantCulture),
        // timestamptz arrives as UTC: offset 0, which the SQL API writes as 0 + 1440 minutes.
        DateTime { Kind: DateTimeKind.Utc } utc => $"{Nanoseconds(utc)} 1440",
        DateTime local => Nanoseconds(local).ToString(CultureInfo.InvariantCulture),
        Guid g => g.ToString(),
        byte[] bytes => Convert.ToHexString(bytes),
        Array array => JsonSerializer.Serialize(array, array.GetType(), ArrayJson),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static bool FitsNumber(SourceColumn column) => column.Precision is > 0 and <= MaxNumberPrecision;

    private static long Nanoseconds(DateTime value) => (value.Ticks - Epoch.Ticks) * 100;

    private static string Real(double value, string finite) => double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "inf"
        : double.IsNegativeInfinity(value) ? "-inf"
        : finite;
}
