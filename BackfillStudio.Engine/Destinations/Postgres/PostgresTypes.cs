using System.Globalization;
using BackfillStudio.Engine.Catalog;
using NpgsqlTypes;

namespace BackfillStudio.Engine.Destinations.Postgres;

/// <summary>PostgreSQL-to-PostgreSQL mapping: the staging (wire) type and the target type of a column.</summary>
public static class PostgresTypes
{
    /// <summary>Built-in types keep their exact type; enums and other user-defined types become text.</summary>
    public static string TargetType(SourceColumn column) => column.IsBuiltinType ? column.BaseDataType : "text";

    /// <summary>The largest numeric precision a .NET decimal holds exactly.</summary>
    private const int MaxDecimalPrecision = 28;

    /// <summary>
    /// True when binary COPY can load the target directly: the value travels in the target's own type, or is
    /// a numeric(p,s) with p ≤ 28 that is written as a decimal when its text converts exactly (see <see cref="ExactDecimal"/>).
    /// </summary>
    public static bool CopiesDirectly(SourceColumn column) => column.Kind == ValueKind.NumericText
        ? column.FitsDecimal(MaxDecimalPrecision)
        : !(column.Kind == ValueKind.OtherText && column.IsBuiltinType);

    /// <summary>The wire type on the direct path: numerics go as numeric (decimal), the rest as <see cref="DbType"/>.</summary>
    public static NpgsqlDbType DirectDbType(SourceColumn column) => column.Kind == ValueKind.NumericText ? NpgsqlDbType.Numeric : DbType(column);

    /// <summary>The merge's expression turning a staged value into the target column's type.</summary>
    public static string FromStage(SourceColumn column, string staged) => column.MoneyCarrier is { } carrier
        // Through numeric: money's text would be read in the target's lc_monetary.
        ? $"CAST(CAST({staged} AS {carrier}) AS {TargetType(column)})"
        : $"CAST({staged} AS {TargetType(column)})";

    /// <summary>A numeric's text as a decimal, or null when the decimal would not print back the same (NaN).</summary>
    public static object? ExactDecimal(string text) =>
        decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
        && value.ToString(CultureInfo.InvariantCulture) == text ? value : null;

    public static string StageType(SourceColumn column) => column.Kind switch
    {
        // Typed arrays are of built-in element types only; their own type keeps the element type binary COPY checks.
        ValueKind.Array => column.BaseDataType,
        var kind => ScalarType(kind),
    };

    public static NpgsqlDbType DbType(SourceColumn column) => column.Kind switch
    {
        // Binary COPY checks an array's element type: varchar(n)[] must be sent as varchar, char(n)[] as bpchar.
        ValueKind.Array => NpgsqlDbType.Array | column.ElementType switch
        {
            "varchar" => NpgsqlDbType.Varchar,
            "bpchar" => NpgsqlDbType.Char,
            "name" => NpgsqlDbType.Name,
            _ => ScalarDbType(column.ElementKind!.Value),
        },
        var kind => ScalarDbType(kind),
    };

    private static string ScalarType(ValueKind kind) => kind switch
    {
        ValueKind.Int16 => "int2",
        ValueKind.Int32 => "int4",
        ValueKind.Int64 => "int8",
        ValueKind.Float32 => "float4",
        ValueKind.Float64 => "float8",
        ValueKind.Bool => "bool",
        ValueKind.Date => "date",
        ValueKind.Time => "time",
        ValueKind.Timestamp => "timestamp",
        ValueKind.TimestampTz => "timestamptz",
        ValueKind.Uuid => "uuid",
        ValueKind.Json => "json",
        ValueKind.Jsonb => "jsonb",
        ValueKind.Bytea => "bytea",
        _ => "text",
    };

    private static NpgsqlDbType ScalarDbType(ValueKind kind) => kind switch
    {
        ValueKind.Int16 => NpgsqlDbType.Smallint,
        ValueKind.Int32 => NpgsqlDbType.Integer,
        ValueKind.Int64 => NpgsqlDbType.Bigint,
        ValueKind.Float32 => NpgsqlDbType.Real,
        ValueKind.Float64 => NpgsqlDbType.Double,
        ValueKind.Bool => NpgsqlDbType.Boolean,
        ValueKind.Date => NpgsqlDbType.Date,
        ValueKind.Time => NpgsqlDbType.Time,
        ValueKind.Timestamp => NpgsqlDbType.Timestamp,
        ValueKind.TimestampTz => NpgsqlDbType.TimestampTz,
        ValueKind.Uuid => NpgsqlDbType.Uuid,
        ValueKind.Json => NpgsqlDbType.Json,
        ValueKind.Jsonb => NpgsqlDbType.Jsonb,
        ValueKind.Bytea => NpgsqlDbType.Bytea,
        _ => NpgsqlDbType.Text,
    };
}
