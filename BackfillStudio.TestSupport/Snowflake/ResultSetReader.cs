using System.Data;
using System.Data.Common;
using System.Globalization;
using DuckDB.NET.Data;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// Reads a DuckDB result into the SQL API's shape. Cells use Snowflake's jsonv2 text encodings: dates as days since
/// the epoch, times as seconds since midnight, timestamps as seconds since the epoch (9 decimals; TIMESTAMP_TZ adds
/// " 1440", i.e. UTC), binary as hex, booleans as "true"/"false", numbers in invariant culture.
/// </summary>
internal static class ResultSetReader
{
    private const int TextLength = 16_777_216;
    private const int BinaryLength = 8_388_608;

    private static readonly long UnixEpochTicks = DateTime.UnixEpoch.Ticks;
    private static readonly int UnixEpochDayNumber = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    public static StatementResult Read(DuckDBDataReader reader)
    {
        using var schema = reader.GetSchemaTable();
        var duckTypes = new string[reader.FieldCount];
        var columns = new List<ResultColumn>(reader.FieldCount);
        for (var i = 0; i < duckTypes.Length; i++)
        {
            duckTypes[i] = reader.GetDataTypeName(i);
            columns.Add(Describe(reader.GetName(i), duckTypes[i], schema, i));
        }
        var rows = new List<string?[]>();
        while (reader.Read())
        {
            var row = new string?[duckTypes.Length];
            for (var i = 0; i < row.Length; i++)
                row[i] = reader.IsDBNull(i) ? null : Format(reader, i, duckTypes[i]);
            rows.Add(row);
        }
        return new StatementResult(columns, rows);
    }

    /// <summary><paramref name="duckType"/> is DuckDB.NET's name of the column's DuckDB type (JSON columns read as Varchar).</summary>
    private static ResultColumn Describe(string name, string duckType, DataTable? schema, int ordinal) => duckType switch
    {
        "Boolean" => new ResultColumn(name, "boolean"),
        "TinyInt" or "SmallInt" or "Integer" or "BigInt" or "HugeInt"
            or "UnsignedTinyInt" or "UnsignedSmallInt" or "UnsignedInteger" or "UnsignedBigInt" or "UnsignedHugeInt"
            => new ResultColumn(name, "fixed", 38, 0),
        "Decimal" => DecimalColumn(name, schema, ordinal),
        "Float" or "Double" => new ResultColumn(name, "real"),
        "Date" => new ResultColumn(name, "date"),
        "Time" => new ResultColumn(name, "time", 0, 9),
        "Timestamp" or "TimestampS" or "TimestampMs" or "TimestampNs" => new ResultColumn(name, "timestamp_ntz", 0, 9),
        "TimestampTz" => new ResultColumn(name, "timestamp_tz", 0, 9),
        "Blob" => new ResultColumn(name, "binary", Length: BinaryLength),
        _ => new ResultColumn(name, "text", Length: TextLength),
    };

    private static ResultColumn DecimalColumn(string name, DataTable? schema, int ordinal)
    {
        var row = schema?.Rows[ordinal];
        if (row is not null && row[SchemaTableColumn.NumericPrecision] is byte precision && row[SchemaTableColumn.NumericScale] is byte scale)
            return new ResultColumn(name, "fixed", precision, scale);
        return new ResultColumn(name, "fixed", 38, 0);
    }

    private static string Format(DuckDBDataReader reader, int ordinal, string duckType) => duckType switch
    {
        "Boolean" => reader.GetBoolean(ordinal) ? "true" : "false",
        "Decimal" => reader.GetDecimal(ordinal).ToString(CultureInfo.InvariantCulture),
        "Float" or "Double" => Real(Convert.ToDouble(reader.GetValue(ordinal), CultureInfo.InvariantCulture)),
        "Varchar" => reader.GetString(ordinal),
        "Date" => (reader.GetFieldValue<DateOnly>(ordinal).DayNumber - UnixEpochDayNumber).ToString(CultureInfo.InvariantCulture),
        "Time" => Seconds(reader.GetFieldValue<TimeOnly>(ordinal).Ticks),
        "Timestamp" or "TimestampS" or "TimestampMs" or "TimestampNs" => Seconds(reader.GetDateTime(ordinal).Ticks - UnixEpochTicks),
        // DuckDB.NET reads TIMESTAMPTZ as the UTC date and time.
        "TimestampTz" => Seconds(reader.GetDateTime(ordinal).Ticks - UnixEpochTicks) + " 1440",
        "Blob" => Hex(reader.GetStream(ordinal)),
        _ => Convert.ToString(reader.GetValue(ordinal), CultureInfo.InvariantCulture) ?? "",
    };

    private static string Real(double value) => value switch
    {
        double.PositiveInfinity => "inf",
        double.NegativeInfinity => "-inf",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>Ticks as seconds with nine decimals, signed like a number (-1.5 s is "-1.500000000").</summary>
    private static string Seconds(long ticks) =>
        (ticks / (decimal)TimeSpan.TicksPerSecond).ToString("F9", CultureInfo.InvariantCulture);

    private static string Hex(Stream stream)
    {
        using (stream)
        {
            using var bytes = new MemoryStream();
            stream.CopyTo(bytes);
            return Convert.ToHexString(bytes.ToArray());
        }
    }
}
