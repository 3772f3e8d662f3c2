using System.Text.Json.Nodes;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>The body of <c>POST /api/v2/statements</c>: the fields the emulator uses (timeout and role are ignored).</summary>
internal sealed record StatementRequest(
    string Statement,
    string? Database,
    string? Schema,
    string? Warehouse,
    JsonObject? Bindings,
    int StatementCount)
{
    private const string StatementCountParameter = "MULTI_STATEMENT_COUNT";

    /// <summary>Any count but 1 (0 means "any number") makes a multi-statement request.</summary>
    public bool IsMulti => StatementCount != 1;

    public static StatementRequest Parse(JsonObject? body)
    {
        if (body is null) throw SnowflakeApiException.BadRequest("The request body must be a JSON object.");
        var statement = JsonFields.GetString(body, "statement");
        if (string.IsNullOrWhiteSpace(statement))
            throw SnowflakeApiException.Sql("000900", "42000", "SQL compilation error: Empty SQL statement.");
        var bindings = body["bindings"];
        if (bindings is not null and not JsonObject) throw SnowflakeApiException.BadRequest("bindings must be a JSON object.");
        return new StatementRequest(
            statement,
            JsonFields.GetString(body, "database"),
            JsonFields.GetString(body, "schema"),
            JsonFields.GetString(body, "warehouse"),
            bindings is JsonObject { Count: > 0 } given ? given : null,
            ReadStatementCount(body["parameters"] as JsonObject));
    }

    private static int ReadStatementCount(JsonObject? parameters)
    {
        if (parameters is null) return 1;
        foreach (var (name, value) in parameters)
        {
            if (!string.Equals(name, StatementCountParameter, StringComparison.OrdinalIgnoreCase)) continue;
            if (JsonFields.TryGetInteger(value, out var count) && count is >= 0 and <= int.MaxValue) return (int)count;
            throw SnowflakeApiException.Sql("002211", "22023", $"Invalid value [{value?.ToJsonString()}] for parameter '{StatementCountParameter}'.");
        }
        return 1;
    }
}
