using System.Collections.Concurrent;
using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Verification;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// The engine's loop: claims pending jobs, then queued verifications (woken by NOTIFY, polling as a fallback), up to
/// <see cref="BackfillOptions.MaxConcurrentJobs"/> at once together, renews the leases of what runs and takes back
/// work whose engine died. A job whose lease it finds taken over (this engine was frozen past it, say) is stopped at once.
/// </summary>
public sealed class BackfillWorker(
    IServiceProvider services,
    JobStateStore states,
    VerificationStore verifications,
    JobQueueSignal signal,
    JobCancelSignal cancels,
    EngineRegistry engines,
    IOptions<BackfillOptions> options,
    ILogger<BackfillWorker> logger) : BackgroundService
{
    private enum Work
    {
        Job,
        Verification,
    }

    /// <summary>A claimed piece of work; verifications have no epoch (0).</summary>
    private readonly record struct Claimed(Work Kind, int JobId, long Epoch);

    private sealed record Running(Task Task, JobControl Control);

    private readonly ConcurrentDictionary<Claimed, Running> _running = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        logger.LogInformation("Backfill engine {Engine} started: {MaxJobs} concurrent jobs, batches of {BatchSize}", settings.EngineName,
            settings.MaxConcurrentJobs, settings.BatchSize);
        var leases = MaintainLeasesAsync(stoppingToken);
        cancels.Requested += CancelRunning;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await ClaimWhileCapacityAsync(stoppingToken);
                await signal.WaitAsync(TimeSpan.FromSeconds(settings.PollIntervalSeconds), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            cancels.Requested -= CancelRunning;
        }
        await Task.WhenAll(_running.Values.Select(r => r.Task));
        await leases;
    }

    private async Task ClaimWhileCapacityAsync(CancellationToken ct)
    {
        while (_running.Count < options.Value.MaxConcurrentJobs)
        {
            Claimed? claimed;
            try
            {
                claimed = await states.ClaimNextAsync(ct) is { } job ? new Claimed(Work.Job, job.JobId, job.Epoch)
                    : await verifications.ClaimNextAsync(ct) is { } verified ? new Claimed(Work.Verification, verified, 0) : null;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Could not claim work from the config database: {Error}", e.Message);
                return;
            }
            if (claimed is not { } work) return;
            logger.LogInformation("{Work} of job {JobId} claimed", work.Kind, work.JobId);
            // The work is registered before it starts, so its own clean-up always finds the entry.
            var registered = new TaskCompletionSource();
            var control = new JobControl(ct);
            _running[work] = new Running(RunAsync(work, registered.Task, control), control);
            registered.SetResult();
        }
    }

    private async Task RunAsync(Claimed work, Task registered, JobControl control)
    {
        await registered.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        try
        {
            if (work.Kind == Work.Job) await services.GetRequiredService<JobRunner>().RunAsync(new JobClaim(work.JobId, work.Epoch), control);
            else await services.GetRequiredService<VerificationRunner>().RunAsync(work.JobId, control.Token);
        }
        catch (Exception e)
        {
            logger.LogError(e, "{Work} of job {JobId} could not be finished cleanly", work.Kind, work.JobId);
        }
        finally
        {
            _running.TryRemove(work, out _);
            control.Dispose();
            signal.Wake();
        }
    }

    private List<Claimed> RunningOf(Work kind) => _running.Keys.Where(k => k.Kind == kind).ToList();

    /// <summary>Stops a job whose claim this engine no longer holds; one that has just ended is left to finish.</summary>
    private void StopLost(Claimed claim)
    {
        if (!_running.TryGetValue(claim, out var running) || running.Task.IsCompleted) return;
        logger.LogWarning("Job {JobId}: another engine took it over, or it is back in the queue (claim {Epoch} is stale); stopping at once", claim.JobId, claim.Epoch);
        running.Control.Stop();
    }

    /// <summary>A user cancelled a job (through any node): if this engine runs it, its batch in flight stops now.</summary>
    private void CancelRunning(int jobId)
    {
        foreach (var (work, running) in _running)
        {
            if (work.Kind != Work.Job || work.JobId != jobId || running.Task.IsCompleted) continue;
            logger.LogInformation("Job {JobId}: cancel requested; stopping its batch in flight", jobId);
            running.Control.RequestCancel();
        }
    }

    private async Task MaintainLeasesAsync(CancellationToken ct)
    {
        var settings = options.Value;
        var period = TimeSpan.FromSeconds(Math.Max(1, settings.LeaseSeconds / 3.0));
        using var timer = new PeriodicTimer(period);
        try
        {
            do
            {
                try
                {
                    await engines.ReportAliveAsync(ct);
                    var lost = await states.HeartbeatAsync(RunningOf(Work.Job).Select(c => new JobClaim(c.JobId, c.Epoch)).ToList(), ct);
                    foreach (var claim in lost) StopLost(new Claimed(Work.Job, claim.JobId, claim.Epoch));
                    await verifications.HeartbeatAsync(RunningOf(Work.Verification).Select(c => c.JobId).ToArray(), ct);
                    var reclaimed = await states.ReclaimExpiredAsync(settings.LeaseSeconds, settings.MaxAttempts, ct);
                    foreach (var job in reclaimed)
                        logger.LogWarning("Job {JobId} lost its engine (lease expired); now {Status}", job.JobId, job.Status);
                    // A chunked job's last chunk may have ended (or been reclaimed) on an engine that died before ending the job.
                    await states.SettleChunkedAsync(ct);
                    var verificationsReclaimed = await verifications.ReclaimExpiredAsync(settings.LeaseSeconds, settings.MaxAttempts, ct);
                    if (verificationsReclaimed > 0) logger.LogWarning("{Count} verifications lost their engine (lease expired)", verificationsReclaimed);
                    if (reclaimed.Count + verificationsReclaimed > 0) signal.Wake();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("Lease maintenance failed: {Error}", e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException)
        {
        }
    }
}
