using System.Runtime.InteropServices;

namespace BackfillStudio.Engine.Destinations.Parquet;

/// <summary>
/// Puts a written file in place for good before the batch's checkpoint says it is there: the file's bytes reach the
/// disk, then it is renamed, then the folder's entries (the rename) reach the disk too. Otherwise a machine that loses
/// power after the checkpoint (kept by the config database, which may be on another machine) could come back with the
/// file empty or missing while its job says it was written: the operating system writes both out later, in its own time.
/// </summary>
internal static class DurableFile
{
    public static void MoveIntoPlace(string written, string destination)
    {
        using (var file = new FileStream(written, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
            file.Flush(flushToDisk: true);
        File.Move(written, destination, overwrite: true);
        FlushFolder(Path.GetDirectoryName(destination)!);
    }

    /// <summary>
    /// fsync of a folder, which .NET has no call for (it opens no folder as a file). As PostgreSQL does, a file system
    /// that cannot open a folder for it, or flush one (EACCES, EISDIR, EBADF, EINVAL), is taken to keep its entries
    /// another way; any other error fails the batch.
    /// </summary>
    private static void FlushFolder(string folder)
    {
        if (OperatingSystem.IsWindows()) return;
        var descriptor = open(folder, 0 /* O_RDONLY */);
        if (descriptor < 0)
        {
            if (Marshal.GetLastPInvokeError() is EACCES or EISDIR) return;
            throw new IOException($"Could not open {folder} to flush it to disk (errno {Marshal.GetLastPInvokeError()}).");
        }
        try
        {
            if (fsync(descriptor) != 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error is not (EBADF or EINVAL)) throw new IOException($"Could not flush {folder} to disk (errno {error}).");
            }
        }
        finally
        {
            _ = close(descriptor);
        }
    }

    private const int EBADF = 9, EACCES = 13, EISDIR = 21, EINVAL = 22;

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int descriptor);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int descriptor);
}
