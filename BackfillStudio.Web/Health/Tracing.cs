using System.Diagnostics;
using BackfillStudio.Engine.Observability;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace BackfillStudio.Web.Health;

/// <summary>
/// Traces to an OpenTelemetry collector when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (with the standard
/// <c>OTEL_EXPORTER_OTLP_*</c> settings): a span per job, verification, batch and destination write, and under them
/// Npgsql's span for every source and destination command.
/// </summary>
public static class Tracing
{
    public static IServiceCollection AddBackfillTracing(this IServiceCollection services, IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])) return services;
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("BackfillStudio"))
            .WithTracing(tracing => tracing
                .AddSource(BackfillTracing.SourceName)
                .AddNpgsql()
                .SetSampler(new WorkOnlySampler())
                .AddOtlpExporter());
        return services;
    }

    /// <summary>
    /// Database commands are traced inside a job's or a verification's span; on their own they are the engine's
    /// housekeeping (claims, heartbeats, the queue poll), a span every few seconds that says nothing.
    /// </summary>
    private sealed class WorkOnlySampler : Sampler
    {
        public override SamplingResult ShouldSample(in SamplingParameters parameters) =>
            parameters.ParentContext.TraceId == default && parameters.Kind == ActivityKind.Client
                ? new SamplingResult(SamplingDecision.Drop)
                : new SamplingResult(SamplingDecision.RecordAndSample);
    }
}
