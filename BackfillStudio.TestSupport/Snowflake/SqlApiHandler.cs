using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// The SQL API v2 endpoints: <c>POST /api/v2/statements</c>, <c>GET /api/v2/statements/{handle}</c> and
/// <c>POST /api/v2/statements/{handle}/cancel</c>. Every request is recorded first, then authenticated.
/// </summary>
internal sealed class SqlApiHandler(StatementExecutor executor)
{
    private const string TokenTypeHeader = "X-Snowflake-Authorization-Token-Type";
    private const string JsonMediaType = "application/json";

    public RequestLog Log { get; } = new();
    public JwtVerifier Users { get; } = new();
    public WarehouseCatalog Catalog { get; } = new();
    public FaultInjector Faults { get; } = new();
    public StatementStore Statements { get; } = new();
    public int PartitionRows { get; set; } = int.MaxValue;

    private int _inFlight;
    private int _peakInFlight;

    /// <summary>The most requests that were being answered at one time.</summary>
    public int PeakInFlight => Volatile.Read(ref _peakInFlight);

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var was && was != seen) seen = was;
    }

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8, leaveOpen: true))
            body = await reader.ReadToEndAsync(context.RequestAborted);
        var json = ParseObject(body);
        Log.Add(Recorded(request, json));

        StatementResponse? response;
        var inFlight = Interlocked.Increment(ref _inFlight);
        InterlockedMax(ref _peakInFlight, inFlight);
        try
        {
            response = await DispatchAsync(request, hasBody: body.Length > 0, json);
        }
        catch (SnowflakeApiException e)
        {
            response = SnowflakeResponses.Error(e, handle: null);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
        if (response is null)
        {
            context.Abort();
            return;
        }
        context.Response.StatusCode = response.Status;
        context.Response.ContentType = JsonMediaType;
        if (request.Method == "GET" && request.Query.ContainsKey("partition") && response.Status == 200)
        {
            // Further partitions come compressed, as Snowflake may send them (its partitionInfo gives a compressedSize).
            context.Response.Headers.ContentEncoding = "gzip";
            await using var zip = new GZipStream(context.Response.Body, CompressionLevel.Fastest, leaveOpen: true);
            await zip.WriteAsync(Encoding.UTF8.GetBytes(response.Body), context.RequestAborted);
            return;
        }
        await context.Response.WriteAsync(response.Body, context.RequestAborted);
    }

    /// <returns>The answer, or null to drop the connection without one.</returns>
    private async Task<StatementResponse?> DispatchAsync(HttpRequest request, bool hasBody, JsonObject? json)
    {
        var path = (request.Path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (path is not ["api", "v2", "statements", ..]) return SnowflakeResponses.UnknownPath(request.Path.Value ?? "");
        CheckHeaders(request, hasBody);
        return (request.Method, path.Length) switch
        {
            ("POST", 3) => await SubmitAsync(request, json),
            ("GET", 4) when request.Query.ContainsKey("partition") => Partition(path[3], request.Query["partition"].ToString()),
            ("GET", 4) => Poll(path[3]),
            ("POST", 5) when path[4] == "cancel" => Cancel(path[3]),
            _ => SnowflakeResponses.UnknownPath(request.Path.Value ?? ""),
        };
    }

    private void CheckHeaders(HttpRequest request, bool hasBody)
    {
        var problem = Users.Reject(request.Headers.Authorization.ToString(), request.Headers[TokenTypeHeader].ToString());
        if (problem is not null) throw new SnowflakeApiException(401, "390144", $"JWT token is invalid. {problem}");
        if (string.IsNullOrWhiteSpace(request.Headers.UserAgent.ToString()))
            throw SnowflakeApiException.BadRequest("The User-Agent header is required.");
        if (!request.Headers.Accept.ToString().Contains(JsonMediaType, StringComparison.OrdinalIgnoreCase))
            throw SnowflakeApiException.BadRequest($"The Accept header must be {JsonMediaType}.");
        var contentType = request.ContentType?.Split(';')[0].Trim();
        if (hasBody && !string.Equals(contentType, JsonMediaType, StringComparison.OrdinalIgnoreCase))
            throw new SnowflakeApiException(415, "391903", $"The Content-Type header must be {JsonMediaType}.");
    }

    private async Task<StatementResponse?> SubmitAsync(HttpRequest request, JsonObject? json)
    {
        if (!Guid.TryParse(request.Query["requestId"].ToString(), out var requestId))
            throw SnowflakeApiException.BadRequest("The requestId query parameter must be a UUID.");

        // A retry of a statement that already ran gets its answer, as Snowflake gives it, before any injected fault.
        if (IsTrue(request.Query["retry"]) && Statements.SuccessFor(requestId) is { } earlier) return earlier;

        var fault = Faults.Take(JsonFields.GetString(json, "statement"));
        var handle = Guid.NewGuid();
        switch (fault)
        {
            case EmulatorFault.Throttle:
                return SnowflakeResponses.Throttled();
            case EmulatorFault.Unavailable:
                return SnowflakeResponses.Unavailable();
            case EmulatorFault.Unauthorized:
                throw new SnowflakeApiException(401, "390318", "OAuth access token expired. [Emulator]");
            case EmulatorFault.DropConnection:
                return null;
            case EmulatorFault.Hang:
                Statements.Hang(handle);
                return SnowflakeResponses.Pending(handle);
            case EmulatorFault.Slow busy:
                await Task.Delay(busy.Delay);
                break;
            case EmulatorFault.SqlError error:
                var failure = SnowflakeResponses.Error(SnowflakeApiException.Sql(error.Code, error.SqlState, error.Message), handle);
                Statements.Complete(handle, failure);
                return failure;
        }

        // Asynchronous statements still run now; only their answer waits: 202 here, then 202 for the pending polls.
        var answerLater = fault is EmulatorFault.Async || IsTrue(request.Query["async"]);
        var pendingPolls = fault is EmulatorFault.Async slow ? Math.Max(0, slow.PollsBeforeDone) : answerLater ? 1 : 0;
        StatementResponse outcome;
        try
        {
            outcome = await ExecuteAsync(json, handle, requestId);
            if (fault is EmulatorFault.ServerErrorWhileExecuting) return SnowflakeResponses.InternalError();
            Statements.RememberSuccess(requestId, outcome);
        }
        catch (SnowflakeApiException e) when (e.Status == 422)
        {
            outcome = SnowflakeResponses.Error(e, handle);
        }
        Statements.Complete(handle, outcome, pendingPolls);

        if (fault is EmulatorFault.ServerErrorAfterExecuting) return SnowflakeResponses.InternalError();
        if (fault is EmulatorFault.DropConnectionAfterExecuting) return null;
        return answerLater ? SnowflakeResponses.Pending(handle) : outcome;
    }

    private async Task<StatementResponse> ExecuteAsync(JsonObject? json, Guid handle, Guid requestId)
    {
        var request = StatementRequest.Parse(json);
        var schema = Catalog.Resolve(request.Database, request.Schema, request.Warehouse);
        var plan = StatementPlan.From(request);
        Statements.CountExecution(requestId);
        var results = await executor.RunAsync(plan, schema);
        if (!plan.IsMulti)
        {
            var (first, others) = ResultWriter.Partitioned(results[0], handle, requestId, PartitionRows);
            Statements.KeepPartitions(handle, others);
            return first;
        }

        var statementHandles = new List<Guid>();
        foreach (var result in results)
        {
            var statementHandle = Guid.NewGuid();
            Statements.Complete(statementHandle, ResultWriter.Single(result, statementHandle, requestId));
            statementHandles.Add(statementHandle);
        }
        return ResultWriter.Multi(statementHandles, handle, requestId);
    }

    private StatementResponse Poll(string handleText)
    {
        if (!Guid.TryParse(handleText, out var handle) || !Statements.TryPoll(handle, out var outcome))
            return SnowflakeResponses.StatementNotFound(handleText);
        return outcome ?? SnowflakeResponses.Pending(handle);
    }

    private StatementResponse Partition(string handleText, string number)
    {
        if (!Guid.TryParse(handleText, out var handle) || !int.TryParse(number, out var n) || Statements.PartitionOf(handle, n) is not { } partition)
            return SnowflakeResponses.StatementNotFound($"{handleText} partition {number}");
        return partition;
    }

    private StatementResponse Cancel(string handleText)
    {
        Log.AddCancelled(handleText);
        if (!Guid.TryParse(handleText, out var handle) || !Statements.Cancel(handle, SnowflakeResponses.Cancelled(handle, 422)))
            return SnowflakeResponses.StatementNotFound(handleText);
        return SnowflakeResponses.Cancelled(handle, 200);
    }

    private static JsonObject? ParseObject(string body)
    {
        if (string.IsNullOrWhiteSpace(body)) return null;
        try
        {
            return JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static RecordedRequest Recorded(HttpRequest request, JsonObject? json)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        Keep(TokenTypeHeader, request.Headers[TokenTypeHeader]);
        Keep("Content-Type", request.Headers.ContentType);
        Keep("Accept", request.Headers.Accept);
        Keep("User-Agent", request.Headers.UserAgent);
        Keep("Authorization", request.Headers.Authorization);
        var requestId = request.Query.TryGetValue("requestId", out var id) ? id.ToString() : null;
        var statement = JsonFields.GetString(json, "statement");
        var textBytes = Encoding.UTF8.GetByteCount(statement ?? "") + (json?["bindings"] as JsonObject ?? [])
            .Sum(b => b.Value?["value"] is JsonValue v && v.TryGetValue<string>(out var text) ? Encoding.UTF8.GetByteCount(text) : 0L);
        return new RecordedRequest(request.Method, request.Path.Value ?? "", requestId, IsTrue(request.Query["retry"]), statement, headers, textBytes);

        void Keep(string name, StringValues value)
        {
            if (!StringValues.IsNullOrEmpty(value)) headers[name] = value.ToString();
        }
    }

    private static bool IsTrue(StringValues value) => string.Equals(value.ToString(), "true", StringComparison.OrdinalIgnoreCase);
}
