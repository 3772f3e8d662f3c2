namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// One HTTP request the emulator received, as it arrived (recorded before any check). <see cref="Headers"/> holds
/// those of X-Snowflake-Authorization-Token-Type, Content-Type, Accept and User-Agent that were sent.
/// </summary>
public sealed record RecordedRequest(
    string Method,
    string Path,
    string? RequestId,
    bool Retry,
    string? Statement,
    IReadOnlyDictionary<string, string> Headers);
