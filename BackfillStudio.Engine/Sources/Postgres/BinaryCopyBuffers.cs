using System.Collections.Concurrent;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>
/// The buffers of one reader's binary batches: a written batch's buffer holds the next batch read, so a job with wide rows
/// keeps the two or three buffers it needs instead of allocating (and leaving to the GC) one per batch.
/// </summary>
public sealed class BinaryCopyBuffers
{
    private const int Kept = 2;
    private readonly ConcurrentBag<byte[]> _spare = [];

    public byte[] Rent() => _spare.TryTake(out var buffer) ? buffer : new byte[256 * 1024];

    public void Return(byte[] buffer)
    {
        if (_spare.Count < Kept) _spare.Add(buffer);
    }
}
