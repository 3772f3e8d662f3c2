namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>A request the emulator refuses, with the HTTP status and Snowflake error code it answers with.</summary>
internal sealed class SnowflakeApiException(int status, string code, string message, string? sqlState = null) : Exception(message)
{
    public int Status => status;
    public string Code => code;
    public string? SqlState => sqlState;

    /// <summary>A 422: the statement was accepted for processing but failed.</summary>
    public static SnowflakeApiException Sql(string code, string sqlState, string message) => new(422, code, message, sqlState);

    public static SnowflakeApiException BadRequest(string message) => new(400, SnowflakeResponses.BadRequestCode, message);
}
