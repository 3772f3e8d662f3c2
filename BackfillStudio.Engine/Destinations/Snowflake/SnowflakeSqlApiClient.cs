using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Polly;
using Polly.Retry;

namespace BackfillStudio.Engine.Destinations.Snowflake;

/// <summary>A value bound to a <c>?</c> placeholder: a SQL API binding type and the value as text.</summary>
public sealed record SnowflakeBinding(string Type, string? Value);

/// <summary>A finished statement's rows; every cell is text or null.</summary>
public sealed record SnowflakeResult(IReadOnlyList<string?[]> Rows);

/// <summary>Snowflake refused the statement (HTTP 422); the message quotes its message, SQL state and error code.</summary>
public sealed class SnowflakeStatementException(string message, string? sqlState, string? code)
    : Exception($"Snowflake rejected the statement: {message} (SQL state {sqlState ?? "?"}, code {code ?? "?"})");

/// <summary>Snowflake could not be reached or kept refusing (throttled, unavailable); the job retries from its checkpoint.</summary>
public sealed class SnowflakeUnavailableException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// Runs statements through the SQL API v2: documented headers and a <c>requestId</c> on every request,
/// 202 answers polled until done, throttling (429/503/504), server errors (500/502), timeouts and dropped
/// connections retried with jittered exponential backoff and the same <c>requestId</c> with <c>retry=true</c>
/// (so a statement that ran is not run twice), a new token after a 401, and the running statement
/// cancelled when the caller gives up.
/// </summary>
public sealed class SnowflakeSqlApiClient(HttpClient http, SnowflakeDestinationSettings settings, TimeProvider time) : IDisposable
{
    public const int StatementTimeoutSeconds = 3600;
    private const int MaxAttempts = 8;
    private const string UserAgent = "BackfillStudio/1.0";

    private readonly SnowflakeKeyPair? _keyPair = settings.PrivateKey is null
        ? null
        : new SnowflakeKeyPair(settings.Account, settings.User, settings.PrivateKey, settings.PrivateKeyPassphrase);
    private readonly ResiliencePipeline<HttpResponseMessage> _retries = Retries(time);
    // A writer sends several statements at once (SnowflakeDestinationWriter.RequestsInFlight); they share the token.
    private readonly Lock _tokenGate = new();
    private string? _jwt;
    private DateTimeOffset _jwtRenewAt;

    public Task<SnowflakeResult> ExecuteAsync(string statement, IReadOnlyList<SnowflakeBinding>? bindings, CancellationToken ct) =>
        SendAsync(Body(statement, bindings, statementCount: null), ct);

    /// <summary>Several statements in one request (e.g. BEGIN ... COMMIT): the only way the SQL API runs a transaction.</summary>
    public Task<SnowflakeResult> ExecuteTransactionAsync(IReadOnlyList<string> statements, CancellationToken ct)
    {
        var all = new List<string> { "BEGIN" };
        all.AddRange(statements);
        all.Add("COMMIT");
        return SendAsync(Body(string.Join(";\n", all), null, all.Count), ct);
    }

    /// <summary>
    /// The request body as UTF-8 JSON, written once and resent as it is on a retry: a request of 50,000 bound values is
    /// about 2 MB this way, where a JSON object tree of them held ten times that until it was sent.
    /// </summary>
    private byte[] Body(string statement, IReadOnlyList<SnowflakeBinding>? bindings, int? statementCount)
    {
        var buffer = new ArrayBufferWriter<byte>(statement.Length + 256 + 48 * (bindings?.Count ?? 0));
        // Text as UTF-8, not \u escapes: the body goes to an API, never into HTML.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("statement", statement);
            json.WriteNumber("timeout", StatementTimeoutSeconds);
            json.WriteString("database", settings.Database);
            json.WriteString("schema", settings.Schema);
            json.WriteString("warehouse", settings.Warehouse);
            if (settings.Role is not null) json.WriteString("role", settings.Role);
            if (bindings is { Count: > 0 })
            {
                json.WriteStartObject("bindings");
                Span<char> name = stackalloc char[11];
                for (var i = 0; i < bindings.Count; i++)
                {
                    (i + 1).TryFormat(name, out var length, provider: System.Globalization.CultureInfo.InvariantCulture);
                    json.WriteStartObject(name[..length]);
                    json.WriteString("type", bindings[i].Type);
                    json.WriteString("value", bindings[i].Value);
                    json.WriteEndObject();
                }
                json.WriteEndObject();
            }
            if (statementCount is { } count)
            {
                json.WriteStartObject("parameters");
                json.WriteString("MULTI_STATEMENT_COUNT", count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private async Task<SnowflakeResult> SendAsync(byte[] body, CancellationToken ct)
    {
        var requestId = Guid.NewGuid();
        var sent = false;
        var (status, json) = await ExchangeAsync(() =>
        {
            // Every resend says retry=true: an answer lost in a 5xx, a timeout or a dropped connection may hide a
            // statement that ran, and Snowflake runs a retried requestId only if it did not.
            var url = new Uri(settings.BaseUrl, $"/api/v2/statements?requestId={requestId}&retry={(sent ? "true" : "false")}");
            sent = true;
            return Request(HttpMethod.Post, url, body);
        }, "", ct);
        return status == HttpStatusCode.Accepted ? await PollAsync(json, ct) : await ResultAsync(json, ct);
    }

    /// <summary>Waits for a statement that answered 202; cancels it in Snowflake when the caller gives up.</summary>
    private async Task<SnowflakeResult> PollAsync(JsonObject accepted, CancellationToken ct)
    {
        var handle = (string?)accepted["statementHandle"] ?? throw new InvalidOperationException("Snowflake answered 202 without a statementHandle.");
        var statusUrl = new Uri(settings.BaseUrl, $"/api/v2/statements/{Uri.EscapeDataString(handle)}");
        var delay = TimeSpan.FromMilliseconds(50);
        try
        {
            while (true)
            {
                await Task.Delay(delay, time, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
                var (status, json) = await ExchangeAsync(() => Request(HttpMethod.Get, statusUrl, null), $" for statement {handle}", ct);
                if (status != HttpStatusCode.Accepted) return await ResultAsync(json, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await CancelAsync(handle);
            throw;
        }
    }

    /// <summary>
    /// One request, retried as the SQL API documents until it gives an answer: 200 or 202 (returned), 422 (thrown as
    /// the statement's error). Lost answers and 429/5xx back off (<see cref="Retries"/>); a 401 gets one new token.
    /// </summary>
    private async Task<(HttpStatusCode Status, JsonObject Body)> ExchangeAsync(Func<HttpRequestMessage> newRequest, string about, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await _retries.ExecuteAsync(token => SendRenewingTokenAsync(newRequest, token), ct);
        }
        catch (Exception e) when (IsSilence(e, ct))
        {
            throw new SnowflakeUnavailableException($"Snowflake sent nothing{about} within {http.Timeout.TotalSeconds:0} s " +
                "(Backfill:StallTimeoutSeconds: a stalled network or service); the request was given up", e);
        }
        catch (Exception e) when (IsLostAnswer(e))
        {
            throw new SnowflakeUnavailableException($"Snowflake did not answer{about}: {e.Message} (gave up after {MaxAttempts} attempts)", e);
        }
        using (response)
        {
            return response.StatusCode switch
            {
                HttpStatusCode.OK or HttpStatusCode.Accepted => (response.StatusCode, await ReadAsync(response, ct)),
                HttpStatusCode.UnprocessableEntity => throw StatementError(await ReadAsync(response, ct)),
                var status when IsRetryable(status) =>
                    throw new SnowflakeUnavailableException($"{await DescribeAsync(response, ct)}{about} (gave up after {MaxAttempts} attempts)"),
                _ => throw new InvalidOperationException($"Snowflake answered {(int)response.StatusCode}{about}: {await DescribeAsync(response, ct)}"),
            };
        }
    }

    /// <summary>A key-pair token may expire on the way: a 401 is answered once, at once, with a new token.</summary>
    private async ValueTask<HttpResponseMessage> SendRenewingTokenAsync(Func<HttpRequestMessage> newRequest, CancellationToken ct)
    {
        using var request = newRequest();
        var response = await http.SendAsync(request, ct);
        if (response.StatusCode != HttpStatusCode.Unauthorized || _keyPair is null) return response;
        response.Dispose();
        lock (_tokenGate) _jwt = null;
        using var renewed = newRequest();
        return await http.SendAsync(renewed, ct);
    }

    /// <summary>
    /// Polly's retry with jittered exponential backoff. The resend itself stays ours (<see cref="SendAsync"/>): it
    /// must say <c>retry=true</c> in the URL, which an HTTP-handler retry replaying the same request cannot do.
    /// </summary>
    private static ResiliencePipeline<HttpResponseMessage> Retries(TimeProvider time) =>
        new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(250),
                MaxDelay = TimeSpan.FromSeconds(30),
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: { } e } => IsLostAnswer(e),
                    { Result: { } response } => IsRetryable(response.StatusCode),
                    _ => false,
                }),
            })
            .Build();

    private static bool IsRetryable(HttpStatusCode status) => status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable
        or HttpStatusCode.GatewayTimeout or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway;

    /// <summary>A dropped or refused connection: resent. (Silence is not; see <see cref="IsSilence"/>.)</summary>
    private static bool IsLostAnswer(Exception e) => e is HttpRequestException;

    /// <summary>
    /// The HTTP client's own timeout (<c>Backfill:StallTimeoutSeconds</c>), as opposed to the caller cancelling: a
    /// service or network gone silent, which a resend would wait out again; the job is requeued instead.
    /// </summary>
    private static bool IsSilence(Exception e, CancellationToken ct) => e is TaskCanceledException && !ct.IsCancellationRequested;

    private async Task CancelAsync(string handle)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            var url = new Uri(settings.BaseUrl, $"/api/v2/statements/{Uri.EscapeDataString(handle)}/cancel");
            using var request = Request(HttpMethod.Post, url, "{}"u8.ToArray());
            using var response = await http.SendAsync(request, timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            // Best effort: the statement times out on its own (StatementTimeoutSeconds).
        }
    }

    private HttpRequestMessage Request(HttpMethod method, Uri url, byte[]? body)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token());
        request.Headers.Add("X-Snowflake-Authorization-Token-Type", _keyPair is null ? settings.TokenType : "KEYPAIR_JWT");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.UserAgent.ParseAdd(UserAgent);
        if (body is not null) request.Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } } };
        return request;
    }

    private string Token()
    {
        if (_keyPair is null) return settings.Token!;
        var now = time.GetUtcNow();
        lock (_tokenGate)
        {
            if (_jwt is null || now >= _jwtRenewAt)
            {
                _jwt = _keyPair.CreateToken(now);
                _jwtRenewAt = now + SnowflakeKeyPair.Lifetime - TimeSpan.FromMinutes(5);
            }
            return _jwt;
        }
    }

    /// <summary>
    /// The rows of every partition of a result: the answer holds the first, and Snowflake gives each other one to
    /// <c>GET /api/v2/statements/{handle}?partition=N</c> (a large result, such as a range's keys that a repair reads).
    /// </summary>
    private async Task<SnowflakeResult> ResultAsync(JsonObject json, CancellationToken ct)
    {
        var rows = Rows(json);
        var partitions = (json["resultSetMetaData"]?["partitionInfo"] as JsonArray)?.Count ?? 1;
        if (partitions > 1)
        {
            var handle = (string?)json["statementHandle"] ?? throw new InvalidOperationException("Snowflake answered a result in partitions without a statementHandle.");
            for (var n = 1; n < partitions; n++)
            {
                var url = new Uri(settings.BaseUrl, $"/api/v2/statements/{Uri.EscapeDataString(handle)}?partition={n}");
                var (_, partition) = await ExchangeAsync(() => Request(HttpMethod.Get, url, null), $" for partition {n} of statement {handle}", ct);
                rows.AddRange(Rows(partition));
            }
        }
        return new SnowflakeResult(rows);
    }

    private static List<string?[]> Rows(JsonObject json) =>
        (json["data"] as JsonArray ?? []).Select(row => (row as JsonArray ?? []).Select(cell => (string?)cell).ToArray()).ToList();

    private static SnowflakeStatementException StatementError(JsonObject json) =>
        new((string?)json["message"] ?? "(no message)", (string?)json["sqlState"], (string?)json["code"]);

    private static async Task<JsonObject> ReadAsync(HttpResponseMessage response, CancellationToken ct) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync(ct)) as JsonObject ?? new JsonObject();

    private static async Task<string> DescribeAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            if (JsonNode.Parse(text) is JsonObject json && json["message"] is { } message) return $"{(int)response.StatusCode} {message}";
        }
        catch (System.Text.Json.JsonException)
        {
        }
        return $"{(int)response.StatusCode} {response.ReasonPhrase}";
    }

    public void Dispose() => _keyPair?.Dispose();
}
