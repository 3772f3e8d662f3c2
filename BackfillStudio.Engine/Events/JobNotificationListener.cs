using System.Text.Json;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace BackfillStudio.Engine.Events;

/// <summary>
/// Listens on the config database: a created job wakes the worker within milliseconds, and job
/// changes made by other processes are re-published on this process's <see cref="JobEventBus"/>. When the connection is
/// lost (the config database restarted, say) it drops the config database's idle connections, which are most likely
/// gone too, reconnects, then wakes the worker and tells the bus that changes may have been missed, so open pages reload.
/// </summary>
public sealed class JobNotificationListener(
    ConfigDataSource config,
    JobEventBus bus,
    JobQueueSignal signal,
    JobCancelSignal cancels,
    EngineIdentity identity,
    ILogger<JobNotificationListener> logger) : BackgroundService
{
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once LISTEN is in place, i.e. from when other processes' changes arrive here.</summary>
    public Task Listening => _listening.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reconnecting = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await config.DataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) => OnNotification(e.Channel, e.Payload);
                await using (var cmd = new NpgsqlCommand($"LISTEN {NotifyChannels.JobCreated}; LISTEN {NotifyChannels.JobChanged}; LISTEN {NotifyChannels.JobCancel}", connection))
                    await cmd.ExecuteNonQueryAsync(stoppingToken);
                _listening.TrySetResult();
                // Anything created while we were not listening is picked up now.
                signal.Wake();
                if (reconnecting)
                {
                    logger.LogInformation("Listening to the config database again");
                    bus.PublishResync();
                }
                reconnecting = true;
                while (!stoppingToken.IsCancellationRequested) await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Lost the LISTEN connection to the config database, reconnecting: {Error}", e.Message);
                config.ClearPools();
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }

    private void OnNotification(string channel, string payload)
    {
        if (channel == NotifyChannels.JobCreated)
        {
            signal.Wake();
            return;
        }
        if (channel == NotifyChannels.JobCancel)
        {
            if (int.TryParse(payload, out var jobId)) cancels.Raise(jobId);
            return;
        }
        var notification = JsonSerializer.Deserialize<JobChangedNotification>(payload);
        if (notification is not null && notification.Origin != identity.Owner) bus.Publish(notification.Change);
    }
}
