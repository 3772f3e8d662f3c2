namespace BackfillStudio.Engine.Batches;

/// <summary>
/// A batch's rows in PostgreSQL's binary COPY format (signature, header, tuples, trailer), never decoded: what a job whose
/// destinations are all PostgreSQL passes from the source's <c>COPY ... TO STDOUT</c> into each target's <c>COPY ... FROM STDIN</c>.
/// </summary>
public sealed class BinaryCopyRows(byte[] buffer, int length, int rowCount)
{
    public ReadOnlyMemory<byte> Data => buffer.AsMemory(0, length);

    public int RowCount => rowCount;
}
