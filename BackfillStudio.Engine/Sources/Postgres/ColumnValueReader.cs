using BackfillStudio.Engine.Catalog;
using Npgsql;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>Reads one column's value in the .NET type its <see cref="ValueKind"/> travels as.</summary>
public static class ColumnValueReader
{
    /// <summary>The SELECT expression for a column: text-carried kinds are cast to text in the source.</summary>
    public static string SelectExpression(SourceColumn column) => column switch
    {
        { TextVia: { } via } => $"{Sql.Ident(column.Name)}::{via}::text",
        { Kind: ValueKind.NumericText or ValueKind.Enum or ValueKind.OtherText } => $"{Sql.Ident(column.Name)}::text",
        _ => Sql.Ident(column.Name),
    };

    /// <summary>Why a value of <see cref="ShapeCheckExpression"/> fails the job.</summary>
    public const string ShapeRefusal = "is a multi-dimensional array or has a lower bound other than 1, which a typed array column cannot hold.";

    /// <summary>
    /// For a typed array column: an expression that is the array's text when its shape cannot travel as a
    /// .NET array (several dimensions, or a lower bound other than 1, which .NET arrays would silently drop).
    /// </summary>
    public static string? ShapeCheckExpression(SourceColumn column) => column.Kind != ValueKind.Array ? null
        : $"CASE WHEN array_ndims({Sql.Ident(column.Name)}) > 1 OR array_lower({Sql.Ident(column.Name)}, 1) <> 1 THEN left({Sql.Ident(column.Name)}::text, 100) END";

    public static Func<NpgsqlDataReader, int, object?> For(SourceColumn column) => column.Kind switch
    {
        ValueKind.Int16 => Get<short>,
        ValueKind.Int32 => Get<int>,
        ValueKind.Int64 => Get<long>,
        ValueKind.Float32 => Get<float>,
        ValueKind.Float64 => Get<double>,
        ValueKind.Bool => Get<bool>,
        // PostgreSQL's own integers: see PgTemporal.
        ValueKind.Date => Get<int>,
        ValueKind.Time or ValueKind.Timestamp or ValueKind.TimestampTz => Get<long>,
        ValueKind.Uuid => Get<Guid>,
        ValueKind.Bytea => Get<byte[]>,
        ValueKind.Array => ArrayReader(column.ElementKind!.Value),
        _ => Get<string>,
    };

    private static Func<NpgsqlDataReader, int, object?> ArrayReader(ValueKind element) => element switch
    {
        ValueKind.Int16 => Get<short?[]>,
        ValueKind.Int32 => Get<int?[]>,
        ValueKind.Int64 => Get<long?[]>,
        ValueKind.Float32 => Get<float?[]>,
        ValueKind.Float64 => Get<double?[]>,
        ValueKind.Bool => Get<bool?[]>,
        ValueKind.Uuid => Get<Guid?[]>,
        _ => Get<string?[]>,
    };

    private static object? Get<T>(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<T>(ordinal);
}
