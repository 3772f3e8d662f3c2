namespace BackfillStudio.Engine.Batches;

/// <summary>A batch's rows: decoded values in column order, or, for a job whose destinations all take it, undecoded binary COPY data.</summary>
public sealed class BatchRows
{
    private BatchRows(IReadOnlyList<object?[]>? values, BinaryCopyRows? binary)
    {
        Values = values;
        Binary = binary;
    }

    public IReadOnlyList<object?[]>? Values { get; }

    public BinaryCopyRows? Binary { get; }

    public int RowCount => Values?.Count ?? Binary!.RowCount;

    public static BatchRows Decoded(IReadOnlyList<object?[]> values) => new(values, null);

    public static BatchRows Copied(BinaryCopyRows binary) => new(null, binary);
}
