using System.Collections.Concurrent;

namespace BackfillStudio.Engine.Destinations.DuckDb;

/// <summary>
/// One write lock per DuckDB file in this process. Jobs share the file's database instance (DuckDB.NET
/// opens a file once per process and closes it with its last connection); serialising their merges
/// avoids DuckDB's write-write conflicts when two jobs upsert into the same table.
/// </summary>
public static class DuckDbFileLocks
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Locks = new();

    public static SemaphoreSlim For(string path) => Locks.GetOrAdd(Path.GetFullPath(path), _ => new SemaphoreSlim(1, 1));

    /// <summary>Runs <paramref name="action"/> holding the file's lock.</summary>
    public static async Task RunAsync(string path, Action action, CancellationToken ct)
    {
        var gate = For(path);
        await gate.WaitAsync(ct);
        try
        {
            action();
        }
        finally
        {
            gate.Release();
        }
    }
}
