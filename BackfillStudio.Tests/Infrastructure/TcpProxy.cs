using System.Net;
using System.Net.Sockets;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>
/// A TCP proxy in front of a server, for network faults: <see cref="Blackhole"/> stops forwarding in both directions
/// without closing anything (a cable pulled somewhere on the way: no error, no reset, just silence), <see cref="Heal"/>
/// resumes — bytes held meanwhile are delivered, so connections that are still open carry on intact. <see cref="Latency"/>
/// holds every chunk the server sends for that long, so a bigger answer takes longer (a busy, far-away server).
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = [];
    private readonly string _upstreamHost;
    private readonly int _upstreamPort;
    private TaskCompletionSource _open = NewGate(open: true);
    private volatile bool _refusing;

    public TcpProxy(string upstreamHost, int upstreamPort)
    {
        _upstreamHost = upstreamHost;
        _upstreamPort = upstreamPort;
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public void Blackhole() => _open = NewGate(open: false);

    /// <summary>
    /// What a server restart looks like from the network: every open connection is closed at once, and new ones are
    /// closed as soon as they are accepted, until <see cref="Heal"/>.
    /// </summary>
    public void Sever()
    {
        _refusing = true;
        lock (_connections)
        {
            foreach (var connection in _connections) connection.Dispose();
            _connections.Clear();
        }
    }

    /// <summary>How long each chunk from the server waits before it is passed on; zero by default.</summary>
    public TimeSpan Latency { get; set; }

    public void Heal()
    {
        _refusing = false;
        _open.TrySetResult();
    }

    private static TaskCompletionSource NewGate(bool open)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open) gate.SetResult();
        return gate;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                if (_refusing)
                {
                    client.Dispose();
                    continue;
                }
                var upstream = new TcpClient();
                lock (_connections) _connections.AddRange([client, upstream]);
                _ = ConnectAsync(client, upstream);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ConnectAsync(TcpClient client, TcpClient upstream)
    {
        try
        {
            await _open.Task.WaitAsync(_stop.Token);
            await upstream.ConnectAsync(_upstreamHost, _upstreamPort, _stop.Token);
            await Task.WhenAny(PumpAsync(client.GetStream(), upstream.GetStream(), fromServer: false),
                PumpAsync(upstream.GetStream(), client.GetStream(), fromServer: true));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        client.Dispose();
        upstream.Dispose();
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool fromServer)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await from.ReadAsync(buffer, _stop.Token);
            if (read == 0) return;
            await _open.Task.WaitAsync(_stop.Token);
            if (fromServer && Latency > TimeSpan.Zero) await Task.Delay(Latency, _stop.Token);
            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_connections)
            foreach (var connection in _connections) connection.Dispose();
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }
}
