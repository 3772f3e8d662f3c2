using Polly;
using Polly.Retry;

namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// Carries a running job's reads and writes of the config database through a short outage (a restart, a failover, a
/// dropped connection): transient errors are retried for about 45 s, longer than a lease, before the job gives up the
/// step (an engine whose claim was taken over meanwhile finds its next write rejected by the epoch). Every write retried
/// this way is idempotent: a retry after an answer that was lost changes nothing twice.
/// </summary>
public static class ConfigRetry
{
    private static readonly ResiliencePipeline Pipeline = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = 12,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(250),
            MaxDelay = TimeSpan.FromSeconds(5),
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && JobFailure.IsTransient(e)),
        })
        .Build();

    public static Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> action, CancellationToken ct) =>
        Pipeline.ExecuteAsync(async token => await action(token), ct).AsTask();
}
