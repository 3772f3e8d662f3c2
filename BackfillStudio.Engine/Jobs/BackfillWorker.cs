using System.Collections.Concurrent;
using BackfillStudio.Engine.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// The engine's loop: claims pending jobs (woken by NOTIFY, polling as a fallback) up to
/// <see cref="BackfillOptions.MaxConcurrentJobs"/>, renews the leases of running jobs and takes back
/// jobs whose engine died.
/// </summary>
public sealed class BackfillWorker(
    IServiceProvider services,
    JobStateStore states,
    JobQueueSignal signal,
    IOptions<BackfillOptions> options,
    ILogger<BackfillWorker> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<int, Task> _running = new();

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
            int? id;
            try
            {
                id = await states.ClaimNextAsync(ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Could not claim jobs from the config database: {Error}", e.Message);
                return;
            }
            if (id is not { } jobId) return;
            logger.LogInformation("Job {JobId} claimed", jobId);
            // The job is registered before it starts, so its own clean-up always finds the entry.
            var registered = new TaskCompletionSource();
            _running[jobId] = RunAsync(jobId, registered.Task, ct);
            registered.SetResult();
        }
    }

    private async Task RunAsync(int jobId, Task registered, CancellationToken ct)
    {
        await registered.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        try
        {
            await services.GetRequiredService<JobRunner>().RunAsync(jobId, ct);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Job {JobId} could not be finished cleanly", jobId);
        }
        finally
        {
            _running.TryRemove(jobId, out _);
            signal.Wake();
        }
    }

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
                    await states.HeartbeatAsync(_running.Keys.ToArray(), ct);
                    var reclaimed = await states.ReclaimExpiredAsync(settings.LeaseSeconds, settings.MaxAttempts, ct);
                    foreach (var job in reclaimed)
                        logger.LogWarning("Job {JobId} lost its engine (lease expired); now {Status}", job.JobId, job.Status);
                    if (reclaimed.Count > 0) signal.Wake();
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
