using System.Globalization;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Staging;
using DuckDB.NET.Data;

namespace BackfillStudio.Engine.Destinations.Parquet;

/// <summary>
/// Writes each batch as one Parquet file, encoded by the job's DuckDB stage, at
/// <c>&lt;dir&gt;/&lt;table&gt;/&lt;job_id&gt;/part-&lt;batch&gt;.parquet</c>. Batch numbers are stable across
/// resumes and each file is written in the claim's own folder and then renamed into place, so a resumed job replaces a
/// file instead of adding a duplicate, and readers never see a half-written file; it is on disk before the batch's
/// checkpoint (<see cref="DurableFile"/>). A newer claim deletes the older
/// claims' folders, so an engine that lost the job never puts a file in place after the new owner began
/// (<see cref="ClaimDirectory"/>). A chunk of a job (<see cref="Jobs.JobChunks"/>) writes into its job's folder, its files
/// named by its chunk number and its claims' folders its own.
/// </summary>
public sealed class ParquetDestinationWriter(ParquetDestinationSettings settings, WriteTarget target) : IDestinationWriter
{
    private string TableDirectory => System.IO.Path.Combine(System.IO.Path.GetFullPath(settings.Path), target.TargetTable);
    private string Directory => JobDirectory(settings, target.TargetTable, target.ParentJobId ?? target.JobId);

    /// <summary>Where a job's files are: everything in it is that job's copy of the table.</summary>
    public static string JobDirectory(ParquetDestinationSettings settings, string targetTable, int jobId) =>
        System.IO.Path.Combine(System.IO.Path.GetFullPath(settings.Path), targetTable, jobId.ToString());

    public async Task PrepareAsync(CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Directory);
        await ClaimAsync(ct);
        TakeOverFromOlderClaims();
        DeleteFilesPastTheCheckpoint();
    }

    /// <summary>
    /// Deletes this job's (or chunk's) files numbered from the checkpoint on: a run that stopped before their checkpoint
    /// left them, and a resumed run cutting fewer batches (rows deleted meanwhile, other batch sizes) would not replace
    /// them all, so their rows would stay in the job's copy twice or after they left the source. Runs once no older claim
    /// can put a file in place any more.
    /// </summary>
    private void DeleteFilesPastTheCheckpoint()
    {
        var prefix = $"{target.FilePrefix}-";
        foreach (var file in System.IO.Directory.GetFiles(Directory, $"{prefix}*.parquet"))
        {
            var number = System.IO.Path.GetFileNameWithoutExtension(file)[prefix.Length..];
            // Digits only: a chunk's files (part-c01-...) share the job's prefix.
            if (long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) && sequence >= target.CheckpointedBatches)
                File.Delete(file);
        }
    }

    /// <summary>The table folder's <see cref="TargetOwnership.Table"/> file names the source table whose jobs write there.</summary>
    private async Task ClaimAsync(CancellationToken ct)
    {
        var marker = System.IO.Path.Combine(TableDirectory, TargetOwnership.Table);
        // Written aside and moved into place, so no reader ever sees a marker without its content.
        var written = $"{marker}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllTextAsync(written, target.Source, ct);
        try
        {
            File.Move(written, marker, overwrite: false);
            return;
        }
        catch (IOException) when (File.Exists(marker))
        {
            File.Delete(written);
        }
        var owner = await File.ReadAllTextAsync(marker, ct);
        if (owner != target.Source) throw TargetOwnership.Conflict(TableDirectory, owner, target.Source);
    }

    public bool TakesStageCopy => true;

    public void CheckValues(Batch batch) => DuckDbTypes.Check(target.Table, batch);

    public Task WriteAsync(Batch batch, CancellationToken ct)
    {
        var name = $"{target.FilePrefix}-{batch.Sequence:D6}.parquet";
        var temporary = System.IO.Path.Combine(ClaimDirectory, name);
        if (!System.IO.Directory.Exists(ClaimDirectory)) throw Superseded();
        var stage = batch.Staged();
        try
        {
            DuckDbStage.Execute(stage.Connection,
                $"COPY ({stage.SelectConverted()}) TO {Sql.Literal(temporary)} (FORMAT parquet, COMPRESSION zstd)");
            DurableFile.MoveIntoPlace(temporary, System.IO.Path.Combine(Directory, name));
        }
        catch (Exception e) when (e is DuckDBException or IOException && !System.IO.Directory.Exists(ClaimDirectory))
        {
            throw Superseded();
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Where this claim writes a batch's file before renaming it into place: a folder of the claim's own in the job's
    /// folder (<see cref="ClaimFence"/>). A newer claim deletes it when it starts (<see cref="TakeOverFromOlderClaims"/>),
    /// so an engine that lost the job — frozen half-way through a batch, say — can no longer put a file in place: its
    /// write or its rename finds the folder gone. No lock is held: an engine frozen anywhere keeps no other waiting.
    /// </summary>
    private string ClaimDirectory => System.IO.Path.Combine(Directory, $"{ClaimPrefix}{target.Epoch}");

    private string ClaimPrefix => target.ParentJobId is null ? $"{ClaimFence.Table}-" : $"{ClaimFence.Table}.chunk-{target.JobId}-";

    /// <summary>
    /// Makes this claim's folder, then deletes every older claim's, or this claim's own when a newer one exists (its
    /// writes are then refused). Each claim makes its folder before it looks at the others, so of two claims starting at
    /// once the later one sees the earlier's folder, or the earlier one finds its own deleted.
    /// </summary>
    private void TakeOverFromOlderClaims()
    {
        System.IO.Directory.CreateDirectory(ClaimDirectory);
        foreach (var folder in System.IO.Directory.GetDirectories(Directory, ClaimPrefix + "*"))
        {
            if (!long.TryParse(System.IO.Path.GetFileName(folder)[ClaimPrefix.Length..], out var epoch) || epoch == target.Epoch) continue;
            Delete(epoch < target.Epoch ? folder : ClaimDirectory);
        }
    }

    /// <summary>Deletes a claim's folder; another engine may delete it too, or (an older claim still running) add a file meanwhile.</summary>
    private static void Delete(string folder)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                System.IO.Directory.Delete(folder, recursive: true);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException) when (attempt < 5)
            {
            }
        }
    }

    private StaleClaimException Superseded() => new($"Folder {Directory}", target);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public static Task<string> TestAsync(ParquetDestinationSettings settings)
    {
        var directory = System.IO.Path.GetFullPath(settings.Path);
        System.IO.Directory.CreateDirectory(directory);
        var probe = System.IO.Path.Combine(directory, $".backfill-probe-{Guid.NewGuid():N}");
        File.WriteAllText(probe, "ok");
        File.Delete(probe);
        return Task.FromResult($"Directory {directory} is writable");
    }
}
