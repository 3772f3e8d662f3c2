using System.Buffers.Binary;
using System.Text;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;

namespace BackfillStudio.Engine.Staging;

/// <summary>
/// Maps PostgreSQL columns to DuckDB: the staging type the appender writes, the target type users see,
/// the expression that turns one into the other, and the values DuckDB cannot hold.
/// </summary>
public static class DuckDbTypes
{
    /// <summary>DuckDB DECIMAL holds at most 38 digits and no negative scale; other numerics stay text so no digit is lost.</summary>
    public const int MaxDecimalPrecision = 38;

    /// <summary>DuckDB's largest finite timestamp, in microseconds since 1970 (its infinity is <c>long.MaxValue</c>).</summary>
    private const long MaxTimestamp = long.MaxValue - 1;

    public static string StageType(SourceColumn column) => column.Kind switch
    {
        ValueKind.Array => ScalarType(column.ElementKind!.Value) + "[]",
        ValueKind.Date => "INTEGER",
        ValueKind.Time or ValueKind.Timestamp or ValueKind.TimestampTz => "BIGINT",
        var kind => ScalarType(kind),
    };

    /// <summary>The column list of a stage table: each column with its <see cref="StageType"/>.</summary>
    public static string StageColumns(IEnumerable<SourceColumn> columns) =>
        string.Join(", ", columns.Select(c => $"{Sql.Ident(c.Name)} {StageType(c)}"));

    public static string TargetType(SourceColumn column) => column.Kind switch
    {
        ValueKind.Json or ValueKind.Jsonb => "JSON",
        ValueKind.NumericText when column.FitsDecimal(MaxDecimalPrecision) => $"DECIMAL({column.Precision},{column.Scale})",
        ValueKind.Date => "DATE",
        ValueKind.Time => "TIME",
        ValueKind.Timestamp => "TIMESTAMP",
        ValueKind.TimestampTz => "TIMESTAMPTZ",
        _ => StageType(column),
    };

    /// <summary>The SELECT expression that turns a staged column into its target type.</summary>
    public static string Convert(SourceColumn column)
    {
        var q = Sql.Ident(column.Name);
        return column.Kind switch
        {
            ValueKind.Date => $"CASE {q} WHEN {PgTemporal.DateInfinity} THEN 'infinity'::DATE WHEN {PgTemporal.DateMinusInfinity} THEN '-infinity'::DATE " +
                              $"ELSE DATE '2000-01-01' + {q} END",
            // TIME + INTERVAL wraps around midnight, so 24:00:00 (which DuckDB holds) is spelled out.
            ValueKind.Time => $"CASE {q} WHEN {PgTemporal.MicrosecondsPerDay} THEN TIME '24:00:00' ELSE TIME '00:00:00' + to_microseconds({q}) END",
            ValueKind.Timestamp or ValueKind.TimestampTz =>
                $"CASE {q} WHEN {PgTemporal.TimestampInfinity} THEN 'infinity'::{TargetType(column)} " +
                $"WHEN {PgTemporal.TimestampMinusInfinity} THEN '-infinity'::{TargetType(column)} " +
                $"ELSE {(column.Kind == ValueKind.Timestamp ? "make_timestamp" : "make_timestamptz")}({q} + {PgTemporal.UnixToPostgresMicroseconds}) END",
            _ when StageType(column) == TargetType(column) => q,
            _ => $"CAST({q} AS {TargetType(column)})",
        };
    }

    /// <summary>Why DuckDB cannot hold a (non-null) staged value exactly in the column's target type, or null when it can.</summary>
    public static string? Refusal(SourceColumn column, object value) => (column.Kind, value) switch
    {
        (ValueKind.Timestamp or ValueKind.TimestampTz, long micros) => TimestampRefusal(micros),
        (ValueKind.NumericText, string text) when SourceColumn.IsNumericSpecial(text) => NumericSpecialRefusal(column),
        _ => null,
    };

    /// <summary>
    /// <see cref="Refusal(SourceColumn, object)"/> for a field of binary COPY rows read with the decoded rows' select list
    /// (<see cref="StageCopy"/>); <paramref name="shown"/> is the value as a message names it.
    /// </summary>
    public static string? Refusal(SourceColumn column, ReadOnlySpan<byte> field, out string shown)
    {
        shown = "";
        switch (column.Kind)
        {
            case ValueKind.Timestamp or ValueKind.TimestampTz:
                var micros = BinaryPrimitives.ReadInt64BigEndian(field);
                if (TimestampRefusal(micros) is not { } late) return null;
                shown = PgTemporal.Format(column.Kind, micros);
                return late;
            case ValueKind.NumericText when SourceColumn.IsNumericSpecial(field):
                shown = Encoding.UTF8.GetString(field);
                return NumericSpecialRefusal(column);
            // jsonb's binary form is a version byte, 1 in every PostgreSQL so far, and then its text.
            case ValueKind.Jsonb when field.Length == 0 || field[0] != 1:
                shown = System.Convert.ToHexString(field[..Math.Min(field.Length, 32)]);
                return $"is jsonb in binary version {(field.Length > 0 ? field[0] : "(none)")}, which this engine cannot read; copying it as text would guess.";
            default:
                return null;
        }
    }

    private static string? TimestampRefusal(long micros) =>
        !PgTemporal.IsInfinite(micros) && micros > MaxTimestamp - PgTemporal.UnixToPostgresMicroseconds
            ? "is after DuckDB's last timestamp (294247-01-10)."
            : null;

    private static string? NumericSpecialRefusal(SourceColumn column) =>
        column.FitsDecimal(MaxDecimalPrecision) ? $"is not a number that DuckDB's {TargetType(column)} can hold." : null;

    /// <summary>Throws <see cref="ValueRejectedException"/> for the batch's first value DuckDB cannot hold exactly.</summary>
    public static void Check(TableSchema table, Batch batch)
    {
        if (batch.Binary is { } binary) StageCopy.Check(table, binary);
        else ValueRejectedException.ThrowIfAny(table, batch.Rows, Refusal);
    }

    private static string ScalarType(ValueKind kind) => kind switch
    {
        ValueKind.Int16 => "SMALLINT",
        ValueKind.Int32 => "INTEGER",
        ValueKind.Int64 => "BIGINT",
        ValueKind.Float32 => "FLOAT",
        ValueKind.Float64 => "DOUBLE",
        ValueKind.Bool => "BOOLEAN",
        ValueKind.Uuid => "UUID",
        ValueKind.Bytea => "BLOB",
        _ => "VARCHAR",
    };
}
