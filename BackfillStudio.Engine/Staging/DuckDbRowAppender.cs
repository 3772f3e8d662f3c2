using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using DuckDB.NET.Data;

namespace BackfillStudio.Engine.Staging;

/// <summary>Appends a batch's rows to a DuckDB table whose columns have <see cref="DuckDbTypes.StageType"/>.</summary>
public static class DuckDbRowAppender
{
    /// <summary>Appends rows that passed <see cref="DuckDbTypes.Check"/>: decoded rows, or binary COPY rows (<see cref="StageCopy"/>).</summary>
    public static void Append(DuckDBConnection connection, string catalog, string schema, string table,
        IReadOnlyList<SourceColumn> columns, Batch batch)
    {
        using var appender = connection.CreateAppender(catalog, schema, table);
        if (batch.Binary is { } binary) StageCopy.Append(appender, columns, binary);
        else AppendDecoded(appender, columns, batch.Rows);
    }

    private static void AppendDecoded(DuckDBAppender appender, IReadOnlyList<SourceColumn> columns, IReadOnlyList<object?[]> rows)
    {
        var writers = columns.Select(WriterFor).ToArray();
        foreach (var values in rows)
        {
            var row = appender.CreateRow();
            for (var i = 0; i < writers.Length; i++)
            {
                if (values[i] is { } value) writers[i](row, value);
                else row.AppendNullValue();
            }
            row.EndRow();
        }
    }

    private static Action<IDuckDBAppenderRow, object> WriterFor(SourceColumn column) => column.Kind switch
    {
        ValueKind.Int16 => (r, v) => r.AppendValue((short)v),
        ValueKind.Int32 or ValueKind.Date => (r, v) => r.AppendValue((int)v),
        ValueKind.Int64 or ValueKind.Time or ValueKind.Timestamp or ValueKind.TimestampTz => (r, v) => r.AppendValue((long)v),
        ValueKind.Float32 => (r, v) => r.AppendValue((float)v),
        ValueKind.Float64 => (r, v) => r.AppendValue((double)v),
        ValueKind.Bool => (r, v) => r.AppendValue((bool)v),
        ValueKind.Uuid => (r, v) => r.AppendValue((Guid)v),
        ValueKind.Bytea => (r, v) => r.AppendValue((byte[])v),
        ValueKind.Array => ArrayWriter(column.ElementKind!.Value),
        _ => (r, v) => r.AppendValue((string)v),
    };

    private static Action<IDuckDBAppenderRow, object> ArrayWriter(ValueKind element) => element switch
    {
        ValueKind.Int16 => (r, v) => r.AppendValue((short?[])v),
        ValueKind.Int32 => (r, v) => r.AppendValue((int?[])v),
        ValueKind.Int64 => (r, v) => r.AppendValue((long?[])v),
        ValueKind.Float32 => (r, v) => r.AppendValue((float?[])v),
        ValueKind.Float64 => (r, v) => r.AppendValue((double?[])v),
        ValueKind.Bool => (r, v) => r.AppendValue((bool?[])v),
        ValueKind.Uuid => (r, v) => r.AppendValue((Guid?[])v),
        _ => (r, v) => r.AppendValue((string?[])v),
    };
}
