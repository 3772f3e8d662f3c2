using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>Every log line a running test app writes from now on (messages, scopes and exceptions), for leak checks.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly StringBuilder _text = new();

    public static LogCapture Attach(TestApp app)
    {
        var capture = new LogCapture();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(capture);
        return capture;
    }

    public string Text
    {
        get
        {
            lock (_text) return _text.ToString();
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write(string line)
    {
        lock (_text) _text.AppendLine(line);
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            capture.Write($"{category} scope: {state}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            capture.Write($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
