namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// One HTTP request the emulator received, as it arrived (recorded before any check). <see cref="Headers"/> holds
/// those of X-Snowflake-Authorization-Token-Type, Content-Type, Accept and User-Agent that were sent.
/// <see cref="TextBytes"/> counts the UTF-8 bytes of the statement and of its bound values, what Snowflake's query text limit counts.
/// </summary>
public sealed record RecordedRequest(
    string Method,
    string Path,
    string? RequestId,
    bool Retry,
    string? Statement,
    IReadOnlyDictionary<string, string> Headers,
    long TextBytes);
