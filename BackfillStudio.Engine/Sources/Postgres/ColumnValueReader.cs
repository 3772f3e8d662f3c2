using BackfillStudio.Engine.Catalog;
using Npgsql;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>Reads one column's value in the .NET type its <see cref="ValueKind"/> travels as.</summary>
public static class ColumnValueReader
{
    /// <summary>The SELECT expression for a column: text-carried kinds are cast to text in the source.</summary>
    public static string SelectExpression(SourceColumn column) => column.Kind switch
    {
        ValueKind.NumericText or ValueKind.Enum or ValueKind.OtherText => $"{Sql.Ident(column.Name)}::text",
        _ => Sql.Ident(column.Name),
    };

    public static Func<NpgsqlDataReader, int, object?> For(SourceColumn column) => column.Kind switch
    {
        ValueKind.Int16 => Get<short>,
        ValueKind.Int32 => Get<int>,
        ValueKind.Int64 => Get<long>,
        ValueKind.Float32 => Get<float>,
        ValueKind.Float64 => Get<double>,
        ValueKind.Decimal => Get<decimal>,
        ValueKind.Bool => Get<bool>,
        ValueKind.Date => Get<DateOnly>,
        ValueKind.Time => Get<TimeOnly>,
        ValueKind.Timestamp or ValueKind.TimestampTz => Get<DateTime>,
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
        ValueKind.Date => Get<DateOnly?[]>,
        ValueKind.Timestamp or ValueKind.TimestampTz => Get<DateTime?[]>,
        _ => Get<string?[]>,
    };

    private static object? Get<T>(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<T>(ordinal);
}
