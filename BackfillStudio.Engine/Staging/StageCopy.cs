using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Sources.Postgres;
using DuckDB.NET.Data;

namespace BackfillStudio.Engine.Staging;

/// <summary>
/// Binary COPY rows read with the decoded rows' select list (<see cref="ColumnValueReader.SelectExpression"/>: text-carried
/// kinds as text, then one shape check per typed array column), loaded into a DuckDB staging table field by field through
/// the appender's typed overloads: no value is boxed and no row object is made. Each column's binary form is PostgreSQL's
/// for the type it travels as (<see cref="ValueKind"/>): dates and times stay PostgreSQL's integers, as in the decoded rows.
/// Text is always valid UTF-8: the source converts it to the session's UTF-8, and a SQL_ASCII database's bytes that are
/// not UTF-8 fail the read there (<c>FidelityTests</c>).
/// </summary>
public static class StageCopy
{
    private delegate void FieldWriter(IDuckDBAppenderRow row, ReadOnlySpan<byte> field);

    private delegate T ElementReader<out T>(ReadOnlySpan<byte> element);

    /// <summary>Throws <see cref="ValueRejectedException"/> for the first value DuckDB cannot hold exactly, or array shape it cannot.</summary>
    public static void Check(TableSchema table, BinaryCopyRows rows)
    {
        var columns = table.Columns;
        var arrays = columns.Where(c => c.Kind == ValueKind.Array).ToArray();
        var cursor = new BinaryCopyCursor(rows.Data.Span);
        while (cursor.NextRow())
        {
            foreach (var column in columns)
            {
                if (cursor.NextField(out var field) && DuckDbTypes.Refusal(column, field, out var shown) is { } reason)
                    throw new ValueRejectedException(table.TableName, column.Name, shown, reason);
            }
            foreach (var array in arrays)
            {
                if (cursor.NextField(out var shape))
                    throw new ValueRejectedException(table.TableName, array.Name, Encoding.UTF8.GetString(shape), ColumnValueReader.ShapeRefusal);
            }
        }
    }

    /// <summary>Appends rows that passed <see cref="Check"/> to a table whose columns have <see cref="DuckDbTypes.StageType"/>.</summary>
    public static void Append(DuckDBAppender appender, IReadOnlyList<SourceColumn> columns, BinaryCopyRows rows)
    {
        var writers = columns.Select(WriterFor).ToArray();
        var cursor = new BinaryCopyCursor(rows.Data.Span);
        while (cursor.NextRow())
        {
            var row = appender.CreateRow();
            foreach (var writer in writers)
            {
                if (cursor.NextField(out var field)) writer(row, field);
                else row.AppendNullValue();
            }
            row.EndRow();
        }
    }

    private static FieldWriter WriterFor(SourceColumn column) => column.Kind switch
    {
        ValueKind.Int16 => (r, v) => r.AppendValue(BinaryPrimitives.ReadInt16BigEndian(v)),
        ValueKind.Int32 or ValueKind.Date => (r, v) => r.AppendValue(BinaryPrimitives.ReadInt32BigEndian(v)),
        ValueKind.Int64 or ValueKind.Time or ValueKind.Timestamp or ValueKind.TimestampTz => (r, v) => r.AppendValue(BinaryPrimitives.ReadInt64BigEndian(v)),
        ValueKind.Float32 => (r, v) => r.AppendValue(BinaryPrimitives.ReadSingleBigEndian(v)),
        ValueKind.Float64 => (r, v) => r.AppendValue(BinaryPrimitives.ReadDoubleBigEndian(v)),
        ValueKind.Bool => (r, v) => r.AppendValue(v[0] != 0),
        ValueKind.Uuid => (r, v) => r.AppendValue(new Guid(v, bigEndian: true)),
        // jsonb without its version byte (Check refused any version but 1).
        ValueKind.Jsonb => (r, v) => AppendBytes(r, v[1..]),
        ValueKind.Array => ArrayWriter(column.ElementKind!.Value),
        // bytea as it is; text, json and the kinds that travel as text as their UTF-8 text.
        _ => AppendBytes,
    };

    /// <summary>The appender takes a writable span but only copies from it.</summary>
    private static void AppendBytes(IDuckDBAppenderRow row, ReadOnlySpan<byte> field) =>
        row.AppendValue(MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(field), field.Length));

    private static FieldWriter ArrayWriter(ValueKind element) => element switch
    {
        ValueKind.Int16 => (r, v) => r.AppendValue(ReadArray(v, e => (short?)BinaryPrimitives.ReadInt16BigEndian(e))),
        ValueKind.Int32 => (r, v) => r.AppendValue(ReadArray(v, e => (int?)BinaryPrimitives.ReadInt32BigEndian(e))),
        ValueKind.Int64 => (r, v) => r.AppendValue(ReadArray(v, e => (long?)BinaryPrimitives.ReadInt64BigEndian(e))),
        ValueKind.Float32 => (r, v) => r.AppendValue(ReadArray(v, e => (float?)BinaryPrimitives.ReadSingleBigEndian(e))),
        ValueKind.Float64 => (r, v) => r.AppendValue(ReadArray(v, e => (double?)BinaryPrimitives.ReadDoubleBigEndian(e))),
        ValueKind.Bool => (r, v) => r.AppendValue(ReadArray(v, e => (bool?)(e[0] != 0))),
        ValueKind.Uuid => (r, v) => r.AppendValue(ReadArray(v, e => (Guid?)new Guid(e, bigEndian: true))),
        _ => (r, v) => r.AppendValue(ReadArray(v, e => (string?)Encoding.UTF8.GetString(e))),
    };

    /// <summary>
    /// A one-dimensional array's elements (NULL elements stay null): the binary form is the number of dimensions, a flags
    /// word, the element type, each dimension's length and lower bound, then each element as a length and its bytes.
    /// </summary>
    private static T?[] ReadArray<T>(ReadOnlySpan<byte> field, ElementReader<T> read)
    {
        var dimensions = BinaryPrimitives.ReadInt32BigEndian(field);
        if (dimensions == 0) return [];
        if (dimensions != 1) throw new InvalidDataException($"The source sent an array of {dimensions} dimensions where the shape check allows one.");
        var items = new T?[BinaryPrimitives.ReadInt32BigEndian(field[12..])];
        var position = 20;
        for (var i = 0; i < items.Length; i++)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(field[position..]);
            position += 4;
            if (length < 0) continue;
            items[i] = read(field.Slice(position, length));
            position += length;
        }
        return items;
    }
}
