using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>An HTTP answer: status code and JSON body.</summary>
internal sealed record StatementResponse(int Status, string Body);

/// <summary>The SQL API's answers other than result sets (see <see cref="ResultWriter"/> for those).</summary>
internal static class SnowflakeResponses
{
    public const string SuccessMessage = "Statement executed successfully.";
    public const string BadRequestCode = "391902";

    // Keeps quotes and non-ASCII text readable in bodies; the default encoder escapes them as \uXXXX.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static StatementResponse Error(SnowflakeApiException error, Guid? handle)
    {
        var body = new JsonObject { ["code"] = error.Code, ["message"] = error.Message };
        if (error.SqlState is not null) body["sqlState"] = error.SqlState;
        if (handle is { } statementHandle) body["statementHandle"] = statementHandle.ToString();
        return Json(error.Status, body);
    }

    public static StatementResponse Pending(Guid handle) => Json(202, new JsonObject
    {
        ["code"] = "333334",
        ["message"] = "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
        ["statementHandle"] = handle.ToString(),
        ["statementStatusUrl"] = $"/api/v2/statements/{handle}",
    });

    /// <summary>The body both of the cancel call's 200 and of a cancelled statement's 422.</summary>
    public static StatementResponse Cancelled(Guid handle, int status) => Json(status, new JsonObject
    {
        ["code"] = "000604",
        ["message"] = "SQL execution canceled",
        ["sqlState"] = "57014",
        ["statementHandle"] = handle.ToString(),
    });

    public static StatementResponse StatementNotFound(string handle) =>
        Json(404, new JsonObject { ["code"] = "000709", ["message"] = $"Statement {handle} not found" });

    public static StatementResponse UnknownPath(string path) =>
        Json(404, new JsonObject { ["code"] = "390404", ["message"] = $"No SQL API endpoint at {path}." });

    public static StatementResponse Throttled() =>
        Json(429, new JsonObject { ["code"] = "390505", ["message"] = "Too many requests. Retry the request later." });

    public static StatementResponse Unavailable() =>
        Json(503, new JsonObject { ["code"] = "390503", ["message"] = "Service temporarily unavailable. Retry the request later." });

    public static StatementResponse InternalError() =>
        Json(500, new JsonObject { ["code"] = "390500", ["message"] = "Internal error while processing the request." });

    public static StatementResponse Json(int status, JsonObject body) => new(status, body.ToJsonString(Readable));
}
