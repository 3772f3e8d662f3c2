using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>A span as an OTLP exporter sent it: ids in hex, attribute values as text.</summary>
public sealed record OtlpSpan(string TraceId, string SpanId, string ParentSpanId, string Name, IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// An OpenTelemetry collector's OTLP/HTTP endpoint (<c>POST /v1/traces</c>, protobuf) on a local port, decoding the
/// spans it receives with a minimal protobuf reader (ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span).
/// </summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<OtlpSpan> _spans = new();

    private OtlpCollector(WebApplication app) => _app = app;

    public string Endpoint => _app.Urls.Single();

    public IReadOnlyList<OtlpSpan> Spans => [.. _spans];

    public static async Task<OtlpCollector> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var collector = new OtlpCollector(app);
        app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            foreach (var span in Decode(body.ToArray())) collector._spans.Enqueue(span);
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync();
        return collector;
    }

    /// <summary>Waits until the spans received satisfy <paramref name="condition"/>.</summary>
    public async Task<IReadOnlyList<OtlpSpan>> WaitForAsync(Func<IReadOnlyList<OtlpSpan>, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(Spans))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"{what} did not arrive within {timeout}; received: {string.Join(", ", Spans.Select(s => s.Name))}");
            await Task.Delay(100);
        }
        return Spans;
    }

    private static IEnumerable<OtlpSpan> Decode(byte[] request) =>
        from resourceSpans in Fields(request, 1)
        from scopeSpans in Fields(resourceSpans, 2)
        from span in Fields(scopeSpans, 2)
        select new OtlpSpan(
            Convert.ToHexString(Fields(span, 1).SingleOrDefault() ?? []),
            Convert.ToHexString(Fields(span, 2).SingleOrDefault() ?? []),
            Convert.ToHexString(Fields(span, 4).SingleOrDefault() ?? []),
            Encoding.UTF8.GetString(Fields(span, 5).SingleOrDefault() ?? []),
            Fields(span, 9).ToDictionary(kv => Encoding.UTF8.GetString(Fields(kv, 1).Single()), kv => AnyValue(Fields(kv, 2).SingleOrDefault() ?? [])));

    /// <summary>The text of an AnyValue: string_value (1), bool_value (2), int_value (3) or double_value (4).</summary>
    private static string AnyValue(byte[] value)
    {
        foreach (var (field, number, bytes) in Read(value))
        {
            switch (field)
            {
                case 1: return Encoding.UTF8.GetString(bytes);
                case 2: return number != 0 ? "true" : "false";
                case 3: return ((long)number).ToString(System.Globalization.CultureInfo.InvariantCulture);
                case 4: return BitConverter.UInt64BitsToDouble(number).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return "";
    }

    private static IEnumerable<byte[]> Fields(byte[] message, int field) => Read(message).Where(f => f.Field == field).Select(f => f.Bytes);

    /// <summary>A message's fields in wire order: varint and fixed values as numbers, length-delimited ones as bytes.</summary>
    private static List<(int Field, ulong Number, byte[] Bytes)> Read(byte[] message)
    {
        var fields = new List<(int, ulong, byte[])>();
        var i = 0;
        while (i < message.Length)
        {
            var tag = Varint(message, ref i);
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    fields.Add((field, Varint(message, ref i), []));
                    break;
                case 1:
                    fields.Add((field, BitConverter.ToUInt64(message, i), []));
                    i += 8;
                    break;
                case 2:
                    var length = (int)Varint(message, ref i);
                    fields.Add((field, 0, message[i..(i + length)]));
                    i += length;
                    break;
                case 5:
                    fields.Add((field, BitConverter.ToUInt32(message, i), []));
                    i += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unexpected protobuf wire type {tag & 7}.");
            }
        }
        return fields;
    }

    private static ulong Varint(byte[] message, ref int i)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = message[i++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
