namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>A failure <see cref="SnowflakeEmulator"/> plays back for the statements it is injected for.</summary>
public abstract record EmulatorFault
{
    /// <summary>Executes the statement but answers 202; its status URL answers 202 this many times, then the result.</summary>
    public sealed record Async(int PollsBeforeDone) : EmulatorFault;

    /// <summary>429 with code 390505; nothing is executed.</summary>
    public sealed record Throttle : EmulatorFault;

    /// <summary>503; nothing is executed.</summary>
    public sealed record Unavailable : EmulatorFault;

    /// <summary>
    /// Executes the statement and keeps its result under the requestId, then answers 500. A retry with the same
    /// requestId and <c>retry=true</c> gets the kept result without a second execution.
    /// </summary>
    public sealed record ServerErrorAfterExecuting : EmulatorFault;

    /// <summary>
    /// Executes the statement and answers 500 without keeping its result under the requestId, so a retry runs it again:
    /// Snowflake promises not to run a resent requestId again only once it executed successfully, and a resend while the
    /// first execution still runs (the connection dropped meanwhile) may run it twice.
    /// </summary>
    public sealed record ServerErrorWhileExecuting : EmulatorFault;

    /// <summary>Executes the statement and keeps its result, then drops the connection without answering.</summary>
    public sealed record DropConnectionAfterExecuting : EmulatorFault;

    /// <summary>422 with this error; nothing is executed.</summary>
    public sealed record SqlError(string Message, string SqlState = "42000", string Code = "002003") : EmulatorFault;

    /// <summary>401 as for an expired or revoked token; nothing is executed.</summary>
    public sealed record Unauthorized : EmulatorFault;

    /// <summary>The connection is aborted without an answer; nothing is executed.</summary>
    public sealed record DropConnection : EmulatorFault;

    /// <summary>
    /// Answers 202 and never finishes: the status URL keeps answering 202 until the statement is cancelled,
    /// then 422 "SQL execution canceled". Nothing is executed.
    /// </summary>
    public sealed record Hang : EmulatorFault;

    /// <summary>Holds the request this long, then executes and answers it as usual: a busy warehouse, so requests overlap.</summary>
    public sealed record Slow(TimeSpan Delay) : EmulatorFault;
}
