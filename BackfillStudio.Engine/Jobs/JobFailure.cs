using BackfillStudio.Engine.Destinations;
using System.Net.Sockets;
using Npgsql;

namespace BackfillStudio.Engine.Jobs;

/// <summary>An error in one step of a job, labelled with where it happened (source or which destination).</summary>
public sealed class JobStepException(string step, Exception inner) : Exception($"{step}: {Describe(inner)}", inner)
{
    public bool IsTransient => JobFailure.IsTransient(InnerException!);

    private static string Describe(Exception e) => e switch
    {
        PostgresException pg => $"{pg.MessageText} (SQLSTATE {pg.SqlState})",
        NpgsqlException { InnerException: TimeoutException } =>
            "the server sent nothing within Backfill:StallTimeoutSeconds (a stalled network or server); the session was given up",
        NpgsqlException { InnerException: IOException or SocketException } npg => $"{npg.Message}: {npg.InnerException!.Message}",
        _ => e.Message,
    };
}

public static class JobFailure
{
    /// <summary>Network drops and timeouts are retried from the checkpoint; anything else fails the job.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        JobStepException step => step.IsTransient,
        // Also: too many connections / out of resources (53), connection failures (08), server starting or shutting down (57P0x).
        PostgresException pg => pg.IsTransient || pg.SqlState.StartsWith("53", StringComparison.Ordinal)
            || pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P0", StringComparison.Ordinal),
        NpgsqlException npg => npg.IsTransient || npg.InnerException is IOException or SocketException or TimeoutException,
        // EF Core's execution strategy wraps a transient database error it does not retry itself.
        InvalidOperationException { InnerException: NpgsqlException inner } => IsTransient(inner),
        IOException or SocketException or TimeoutException => true,
        _ => false,
    };

    public static async Task<T> Step<T>(string step, Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception e) when (e is not OperationCanceledException and not JobStepException and not StaleClaimException)
        {
            throw new JobStepException(step, e);
        }
    }

    public static Task Step(string step, Func<Task> action) => Step(step, async () =>
    {
        await action();
        return true;
    });
}
