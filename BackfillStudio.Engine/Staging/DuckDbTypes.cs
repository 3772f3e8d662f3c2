using BackfillStudio.Engine.Catalog;

namespace BackfillStudio.Engine.Staging;

/// <summary>Maps PostgreSQL columns to DuckDB types: the staging type the appender writes and the target type users see.</summary>
public static class DuckDbTypes
{
    /// <summary>DuckDB DECIMAL holds at most 38 digits; wider or unconstrained numerics stay text so no digit is lost.</summary>
    public const int MaxDecimalPrecision = 38;

    public static string StageType(SourceColumn column) => column.Kind switch
    {
        ValueKind.Array => ScalarType(column.ElementKind!.Value, column) + "[]",
        ValueKind.Json or ValueKind.Jsonb => "VARCHAR",
        var kind => ScalarType(kind, column),
    };

    public static string TargetType(SourceColumn column) => column.Kind switch
    {
        ValueKind.Json or ValueKind.Jsonb => "JSON",
        ValueKind.NumericText when column.Precision is > 0 and <= MaxDecimalPrecision => $"DECIMAL({column.Precision},{column.Scale})",
        _ => StageType(column),
    };

    /// <summary>The SELECT expression that turns a staged column into its target type.</summary>
    public static string Convert(SourceColumn column) => StageType(column) == TargetType(column)
        ? Sql.Ident(column.Name)
        : $"CAST({Sql.Ident(column.Name)} AS {TargetType(column)})";

    private static string ScalarType(ValueKind kind, SourceColumn column) => kind switch
    {
        ValueKind.Int16 => "SMALLINT",
        ValueKind.Int32 => "INTEGER",
        ValueKind.Int64 => "BIGINT",
        ValueKind.Float32 => "FLOAT",
        ValueKind.Float64 => "DOUBLE",
        ValueKind.Decimal => $"DECIMAL({column.Precision},{column.Scale})",
        ValueKind.Bool => "BOOLEAN",
        ValueKind.Date => "DATE",
        ValueKind.Time => "TIME",
        ValueKind.Timestamp => "TIMESTAMP",
        ValueKind.TimestampTz => "TIMESTAMPTZ",
        ValueKind.Uuid => "UUID",
        ValueKind.Bytea => "BLOB",
        _ => "VARCHAR",
    };
}
