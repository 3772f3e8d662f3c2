using System.Collections.Concurrent;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>
/// The buffers of one reader's binary batches: a written batch's buffer holds the next batch read, so a job with wide rows
/// keeps the two or three buffers it needs instead of allocating (and leaving to the GC) one per batch. A new buffer
/// starts as large as the largest one grew to: grown from 256 KiB by doubling, a buffer for 64 MiB of wide rows would
/// leave 64 MiB of smaller copies to the GC.
/// </summary>
public sealed class BinaryCopyBuffers
{
    private const int Kept = 2;
    private readonly ConcurrentBag<byte[]> _spare = [];
    private int _size = 256 * 1024;

    /// <summary>A buffer for the next batch read; the reading side rents, one batch at a time.</summary>
    public byte[] Rent() => _spare.TryTake(out var buffer) ? buffer : GC.AllocateUninitializedArray<byte>(_size);

    /// <summary>Notes, on the reading side, that a rented buffer had to grow to <paramref name="size"/> bytes.</summary>
    public void Grew(int size) => _size = Math.Max(_size, size);

    /// <summary>Gives a written batch's buffer back, from the writing side.</summary>
    public void Return(byte[] buffer)
    {
        if (_spare.Count < Kept) _spare.Add(buffer);
    }
}
