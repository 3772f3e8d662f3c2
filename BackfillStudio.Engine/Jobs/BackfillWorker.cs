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
/// work whose engine died.
/// </summary>
public sealed class BackfillWorker(
    IServiceProvider services,
    JobStateStore states,
    VerificationStore verifications,
    JobQueueSignal signal,
    IOptions<BackfillOptions> options,
    ILogger<BackfillWorker> logger) : BackgroundService
{
    private enum Work
    {
        Job,
        Verification,
    }

    private readonly ConcurrentDictionary<(Work Kind, int JobId), Task> _running = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        logger.LogInformation("Backfill engine started: {MaxJobs} concurrent jobs, batches of {BatchSize}", settings.MaxConcurrentJobs, settings.BatchSize);
        var leases = MaintainLeasesAsync(stoppingToken);
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
        await Task.WhenAll(_running.Values);
        await leases;
    }

    private async Task ClaimWhileCapacityAsync(CancellationToken ct)
    {
        while (_running.Count < options.Value.MaxConcurrentJobs)
        {
            (Work Kind, int JobId)? claimed;
            try
            {
                claimed = await states.ClaimNextAsync(ct) is { } job ? (Work.Job, job)
                    : await verifications.ClaimNextAsync(ct) is { } verified ? (Work.Verification, verified) : null;
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
            _running[work] = RunAsync(work, registered.Task, ct);
            registered.SetResult();
        }
    }

    private async Task RunAsync((Work Kind, int JobId) work, Task registered, CancellationToken ct)
    {
        await registered.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        try
        {
            if (work.Kind == Work.Job) await services.GetRequiredService<JobRunner>().RunAsync(work.JobId, ct);
            else await services.GetRequiredService<VerificationRunner>().RunAsync(work.JobId, ct);
        }
        catch (Exception e)
        {
            logger.LogError(e, "{Work} of job {JobId} could not be finished cleanly", work.Kind, work.JobId);
        }
        finally
        {
            _running.TryRemove(work, out _);
            signal.Wake();
        }
    }

    private int[] Running(Work kind) => _running.Keys.Where(k => k.Kind == kind).Select(k => k.JobId).ToArray();

    private async Task MaintainLeasesAsync(CancellationToken ct)
    {
        var settings = options.Value;
        var period = TimeSpan.FromSeconds(Math.Max(1, settings.LeaseSeconds / 3.0));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                try
                {
                    await states.HeartbeatAsync(Running(Work.Job), ct);
                    await verifications.HeartbeatAsync(Running(Work.Verification), ct);
                    var reclaimed = await states.ReclaimExpiredAsync(settings.LeaseSeconds, settings.MaxAttempts, ct);
                    foreach (var job in reclaimed)
                        logger.LogWarning("Job {JobId} lost its engine (lease expired); now {Status}", job.JobId, job.Status);
                    var verificationsReclaimed = await verifications.ReclaimExpiredAsync(settings.LeaseSeconds, settings.MaxAttempts, ct);
                    if (verificationsReclaimed > 0) logger.LogWarning("{Count} verifications lost their engine (lease expired)", verificationsReclaimed);
                    if (reclaimed.Count + verificationsReclaimed > 0) signal.Wake();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("Lease maintenance failed: {Error}", e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
