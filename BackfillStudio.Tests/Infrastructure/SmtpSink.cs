using System.Buffers;
using System.Net;
using MimeKit;
using SmtpServer;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>A real SMTP server in the test process (the SmtpServer package) on a loopback port; keeps every mail it is given.</summary>
public sealed class SmtpSink : IDisposable
{
    private readonly List<MimeMessage> _messages = [];
    private readonly CancellationTokenSource _stop = new();

    /// <summary>A free port; nothing listens on it until <see cref="Start"/> (an SMTP server that is down).</summary>
    public int Port { get; } = PostgresServer.FreePort();

    /// <summary>The app's settings for this server: plain SMTP on localhost, no authentication.</summary>
    public string[] Settings => ["--Smtp:Host=127.0.0.1", $"--Smtp:Port={Port}", "--Smtp:Security=none", "--Smtp:From=BackfillStudio <backfill@example.com>"];

    public void Start()
    {
        var options = new SmtpServerOptionsBuilder().ServerName("localhost").Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, Port))).Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(new Store(this));
        _ = new SmtpServer.SmtpServer(options, services).StartAsync(_stop.Token);
    }

    public IReadOnlyList<MimeMessage> Messages
    {
        get
        {
            lock (_messages) return [.. _messages];
        }
    }

    public async Task<MimeMessage> WaitForAsync(Func<MimeMessage, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (Messages.FirstOrDefault(condition) is { } found) return found;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"No mail {what} within {timeout}; got: {string.Join(" | ", Messages.Select(m => m.Subject))}");
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private sealed class Store(SmtpSink sink) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer,
            CancellationToken cancellationToken)
        {
            using var stream = new MemoryStream(buffer.ToArray());
            var message = await MimeMessage.LoadAsync(stream, cancellationToken);
            lock (sink._messages) sink._messages.Add(message);
            return SmtpResponse.Ok;
        }
    }
}
