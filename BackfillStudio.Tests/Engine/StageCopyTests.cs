using System.Buffers.Binary;
using System.Text;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Staging;

namespace BackfillStudio.Tests.Engine;

/// <summary>Binary COPY fields the DuckDB stage cannot read exactly are refused by name before anything is written.</summary>
public sealed class StageCopyTests
{
    private static readonly SourceColumn Doc = new("doc", "jsonb", "jsonb", true, false, ValueKind.Jsonb, null, null, null, true);
    private static readonly TableSchema Table = new("public.docs", "public", "docs", 1, [Doc], []);

    /// <summary>One row of one field in PostgreSQL's binary COPY format: signature, flags, extension length, tuple, trailer.</summary>
    private static BinaryCopyRows OneField(byte[] field)
    {
        var buffer = new byte[11 + 4 + 4 + 2 + 4 + field.Length + 2];
        "PGCOPY\n"u8.CopyTo(buffer);
        buffer[7] = 0xff;
        buffer[8] = (byte)'\r';
        buffer[9] = (byte)'\n';
        BinaryPrimitives.WriteInt16BigEndian(buffer.AsSpan(19), 1);
        BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(21), field.Length);
        field.CopyTo(buffer, 25);
        BinaryPrimitives.WriteInt16BigEndian(buffer.AsSpan(25 + field.Length), -1);
        return new BinaryCopyRows(buffer, buffer.Length, 1, _ => { });
    }

    [Fact]
    public void JsonbOfAnUnknownBinaryVersion_IsRefused_NamingTableColumnAndValue()
    {
        using var known = OneField([1, .. Encoding.UTF8.GetBytes("{\"a\": 1}")]);
        StageCopy.Check(Table, known);

        using var unknown = OneField([2, .. Encoding.UTF8.GetBytes("{\"a\": 1}")]);
        var refused = Assert.Throws<ValueRejectedException>(() => StageCopy.Check(Table, unknown));
        Assert.Contains("public.docs", refused.Message);
        Assert.Contains("\"doc\"", refused.Message);
        Assert.Contains("02", refused.Message);
        Assert.Contains("binary version 2", refused.Message);
    }
}
