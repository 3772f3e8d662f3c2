namespace BackfillStudio.Engine.Batches;

/// <summary>
/// A batch's rows in PostgreSQL's binary COPY format (signature, header, tuples, trailer), never decoded: what a job whose
/// destinations are all PostgreSQL passes from the source's <c>COPY ... TO STDOUT</c> into each target's <c>COPY ... FROM STDIN</c>.
/// Disposing hands the buffer back to <paramref name="release"/> for the next batch, so wide batches are not allocated anew each time.
/// </summary>
public sealed class BinaryCopyRows(byte[] buffer, int length, int rowCount, Action<byte[]> release) : IDisposable
{
    private int _released;

    public ReadOnlyMemory<byte> Data => buffer.AsMemory(0, length);

    public int RowCount => rowCount;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) release(buffer);
    }
}
