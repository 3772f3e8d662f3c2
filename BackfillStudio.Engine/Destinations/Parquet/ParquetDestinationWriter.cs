using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Staging;

namespace BackfillStudio.Engine.Destinations.Parquet;

/// <summary>
/// Writes each batch as one Parquet file, encoded by the job's DuckDB stage, at
/// <c>&lt;dir&gt;/&lt;table&gt;/&lt;job_id&gt;/part-&lt;batch&gt;.parquet</c>. Batch numbers are stable across
/// resumes and each file is written under a temporary name of the claim and then renamed, so a resumed job
/// replaces a file instead of adding a duplicate, and readers never see a half-written file. The rename happens holding
/// the job folder's <see cref="ClaimFence"/> file (an exclusive lock, the newest epoch inside), so an engine that lost
/// the job never replaces a newer claim's file. A chunk of a job (<see cref="Jobs.JobChunks"/>) writes into its job's folder,
/// its files named by its chunk number and fenced by a file of its own.
/// </summary>
public sealed class ParquetDestinationWriter(ParquetDestinationSettings settings, WriteTarget target) : IDestinationWriter
{
    private string TableDirectory => System.IO.Path.Combine(System.IO.Path.GetFullPath(settings.Path), target.TargetTable);
    private string Directory => JobDirectory(settings, target.TargetTable, target.ParentJobId ?? target.JobId);

    private string FenceFile => target.ParentJobId is null ? ClaimFence.Table : $"{ClaimFence.Table}.chunk-{target.JobId}";

    /// <summary>Where a job's files are: everything in it is that job's copy of the table.</summary>
    public static string JobDirectory(ParquetDestinationSettings settings, string targetTable, int jobId) =>
        System.IO.Path.Combine(System.IO.Path.GetFullPath(settings.Path), targetTable, jobId.ToString());

    public async Task PrepareAsync(CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Directory);
        await ClaimAsync(ct);
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
        var file = System.IO.Path.Combine(Directory, $"{target.FilePrefix}-{batch.Sequence:D6}.parquet");
        var temporary = $"{file}.{target.Epoch}.tmp";
        var stage = batch.Staged();
        DuckDbStage.Execute(stage.Connection,
            $"COPY ({stage.SelectConverted()}) TO {Sql.Literal(temporary)} (FORMAT parquet, COMPRESSION zstd)");
        return MoveFencedAsync(temporary, file, ct);
    }

    private async Task MoveFencedAsync(string temporary, string file, CancellationToken ct)
    {
        await using var fence = await LockFenceAsync(ct);
        using var reader = new StreamReader(fence, leaveOpen: true);
        if (long.TryParse(await reader.ReadToEndAsync(ct), out var epoch) && epoch > target.Epoch)
        {
            File.Delete(temporary);
            throw new StaleClaimException($"Folder {Directory}", target);
        }
        fence.SetLength(0);
        await fence.WriteAsync(System.Text.Encoding.ASCII.GetBytes(target.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture)), ct);
        await fence.FlushAsync(ct);
        File.Move(temporary, file, overwrite: true);
    }

    /// <summary>Opens the fence file exclusively (an flock on Unix, so other engine processes on this host wait too).</summary>
    private async Task<FileStream> LockFenceAsync(CancellationToken ct)
    {
        var path = System.IO.Path.Combine(Directory, FenceFile);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                await Task.Delay(20, ct);
            }
        }
    }

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
