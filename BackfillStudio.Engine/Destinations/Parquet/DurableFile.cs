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
        using (var file = new FileStream(written, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
            file.Flush(flushToDisk: true);
        File.Move(written, destination, overwrite: true);
        FlushFolder(Path.GetDirectoryName(destination)!);
    }

    /// <summary>fsync of a folder, which .NET has no call for (it opens no folder as a file).</summary>
    private static void FlushFolder(string folder)
    {
        if (OperatingSystem.IsWindows()) return;
        var descriptor = open(folder, 0 /* O_RDONLY */);
        if (descriptor < 0) throw new IOException($"Could not open {folder} to flush it to disk (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            if (fsync(descriptor) != 0) throw new IOException($"Could not flush {folder} to disk (errno {Marshal.GetLastPInvokeError()}).");
        }
        finally
        {
            _ = close(descriptor);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int descriptor);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int descriptor);
}
