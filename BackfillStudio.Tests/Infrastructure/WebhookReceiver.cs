using System.Net;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>A webhook receiver on a loopback port: records every request, and answers each with the status <see cref="Answer"/> gives.</summary>
public sealed class WebhookReceiver : IDisposable
{
    public sealed record Received(IReadOnlyDictionary<string, string> Headers, byte[] Body, int AnsweredWith);

    private readonly HttpListener _listener = new();
    private readonly List<Received> _received = [];

    /// <summary>The status to answer the n-th request (1-based) with; 200 by default.</summary>
    public Func<int, int> Answer { get; set; } = _ => 200;

    public string Url { get; }

    public WebhookReceiver()
    {
        var port = PostgresServer.FreePort();
        Url = $"http://127.0.0.1:{port}/hook/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _ = ServeAsync();
    }

    public IReadOnlyList<Received> Requests
    {
        get
        {
            lock (_received) return [.. _received];
        }
    }

    public async Task<IReadOnlyList<Received>> WaitForAsync(Func<IReadOnlyList<Received>, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(Requests))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"The webhook receiver did not see {what} within {timeout}; it got {Requests.Count} requests.");
            await Task.Delay(50);
        }
        return Requests;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            int status;
            lock (_received)
            {
                status = Answer(_received.Count + 1);
                _received.Add(new Received(context.Request.Headers.AllKeys.ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase),
                    body.ToArray(), status));
            }
            context.Response.StatusCode = status;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
    }
}
