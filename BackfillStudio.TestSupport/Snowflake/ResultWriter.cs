using System.Text.Json.Nodes;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>The SQL API's 200 bodies: one result set in jsonv2 format, or the summary of a multi-statement request.</summary>
internal static class ResultWriter
{
    public static StatementResponse Single(StatementResult result, Guid handle, Guid requestId) =>
        SnowflakeResponses.Json(200, Body(result, handle, requestId));

    /// <summary>
    /// The answer, holding the first <paramref name="partitionRows"/> rows and listing every partition in
    /// <c>partitionInfo</c>, and each later partition's body (<c>{"data": [...]}</c>).
    /// </summary>
    public static (StatementResponse First, IReadOnlyList<StatementResponse> Others) Partitioned(StatementResult result, Guid handle, Guid requestId,
        int partitionRows)
    {
        var parts = result.Rows.Chunk(Math.Max(1, partitionRows)).Select(rows => (IReadOnlyList<string?[]>)rows).DefaultIfEmpty([]).ToList();
        var body = Body(result, handle, requestId);
        var info = new JsonArray();
        foreach (var part in parts) info.Add((JsonNode)new JsonObject { ["rowCount"] = part.Count, ["uncompressedSize"] = 0 });
        body["resultSetMetaData"]!["partitionInfo"] = info;
        body["data"] = Data(parts[0]);
        return (SnowflakeResponses.Json(200, body),
            parts.Skip(1).Select(part => SnowflakeResponses.Json(200, new JsonObject { ["data"] = Data(part) })).ToList());
    }

    /// <summary>Each statement's own result is available at its handle in <c>statementHandles</c>.</summary>
    public static StatementResponse Multi(IReadOnlyList<Guid> statementHandles, Guid handle, Guid requestId)
    {
        var summary = StatementResult.Status("Multiple statements executed successfully.", "multiple statement execution");
        var body = Body(summary, handle, requestId);
        var handles = new JsonArray();
        foreach (var statementHandle in statementHandles) handles.Add((JsonNode?)statementHandle.ToString());
        body["statementHandles"] = handles;
        return SnowflakeResponses.Json(200, body);
    }

    private static JsonObject Body(StatementResult result, Guid handle, Guid requestId)
    {
        var partition = new JsonObject { ["rowCount"] = result.Rows.Count, ["uncompressedSize"] = 0 };
        var body = new JsonObject
        {
            ["resultSetMetaData"] = new JsonObject
            {
                ["numRows"] = result.Rows.Count,
                ["format"] = "jsonv2",
                ["rowType"] = RowType(result.Columns),
                ["partitionInfo"] = new JsonArray { (JsonNode)partition },
            },
            ["data"] = Data(result.Rows),
            ["code"] = "090001",
            ["sqlState"] = "00000",
            ["message"] = SnowflakeResponses.SuccessMessage,
            ["statementHandle"] = handle.ToString(),
            ["statementStatusUrl"] = $"/api/v2/statements/{handle}?requestId={requestId}",
            ["createdOn"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        if (result.Stats is { } stats)
        {
            body["stats"] = new JsonObject
            {
                ["numRowsInserted"] = stats.Inserted,
                ["numRowsUpdated"] = stats.Updated,
                ["numRowsDeleted"] = stats.Deleted,
            };
        }
        return body;
    }

    private static JsonArray RowType(IReadOnlyList<ResultColumn> columns)
    {
        var rowType = new JsonArray();
        foreach (var column in columns)
        {
            rowType.Add((JsonNode)new JsonObject
            {
                ["name"] = column.Name,
                ["type"] = column.Type,
                ["nullable"] = true,
                ["precision"] = column.Precision,
                ["scale"] = column.Scale,
                ["length"] = column.Length,
            });
        }
        return rowType;
    }

    private static JsonArray Data(IReadOnlyList<string?[]> rows)
    {
        var data = new JsonArray();
        foreach (var row in rows)
        {
            var cells = new JsonArray();
            foreach (var cell in row) cells.Add((JsonNode?)cell);
            data.Add((JsonNode)cells);
        }
        return data;
    }
}
