using System.Collections;

namespace BackfillStudio.Engine.Batches;

/// <summary>
/// Where a batch ends: at <see cref="Rows"/> rows or at about <see cref="Bytes"/> of decoded values, whichever comes
/// first (<c>Backfill:BatchSize</c>, <c>Backfill:BatchMaxBytes</c>). The byte budget keeps wide rows (a 1 MB jsonb
/// each, say) from filling memory: a job holds two batches at most, the one being written and the one read ahead.
/// </summary>
public sealed record BatchLimits(int Rows, long Bytes)
{
    /// <summary>About the memory a decoded row holds: text as UTF-16, byte arrays by length, other values at a fixed size.</summary>
    public static long SizeOf(object?[] row)
    {
        long size = 24 + 8L * row.Length;
        foreach (var value in row) size += SizeOfValue(value);
        return size;
    }

    private static long SizeOfValue(object? value) => value switch
    {
        null => 0,
        string text => 24 + 2L * text.Length,
        byte[] bytes => 24 + bytes.Length,
        Array array when array.GetType().GetElementType()!.IsPrimitive => 24 + Buffer.ByteLength(array),
        IEnumerable items => 24 + items.Cast<object?>().Sum(item => 8 + SizeOfValue(item)),
        _ => 24,
    };
}
