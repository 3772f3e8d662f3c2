using System.Diagnostics;

namespace BackfillStudio.Engine.Observability;

/// <summary>
/// The engine's trace spans: a job (or a verification) and each batch written to each destination. Npgsql's command
/// spans for the source and the destinations nest under them; see <c>docs/engine.md</c> ("Tracing").
/// </summary>
public static class BackfillTracing
{
    public const string SourceName = "BackfillStudio";

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>A job's run (<c>backfill.job</c>) or its verification (<c>backfill.verify</c>).</summary>
    public static Activity? Job(int jobId, string name = "backfill.job") => Source.StartActivity(name)?.SetTag("backfill.job_id", jobId);

    public static void Failed(this Activity? activity, string message) => activity?.SetStatus(ActivityStatusCode.Error, message);

    public static Activity? Batch(long sequence, int rows) =>
        Source.StartActivity("backfill.batch")?.SetTag("backfill.batch", sequence).SetTag("backfill.rows", rows);

    public static Activity? Write(string destination) =>
        Source.StartActivity("backfill.write")?.SetTag("backfill.destination", destination);
}
