using System.Net;
using BackfillStudio.Engine.Observability;
using OpenTelemetry.Metrics;

namespace BackfillStudio.Web.Health;

/// <summary>
/// The engine's metrics for Prometheus at <c>/metrics</c>, answered only to clients in
/// <c>Metrics:AllowedNetworks</c> (CIDR list; loopback by default): the figures reveal table names and load.
/// </summary>
public static class MetricsEndpoint
{
    private const string Path = "/metrics";

    public static IServiceCollection AddBackfillMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(BackfillMetrics.MeterName).AddPrometheusExporter());
        return services;
    }

    public static IApplicationBuilder UseBackfillMetrics(this IApplicationBuilder app, IConfiguration configuration)
    {
        var allowed = (configuration["Metrics:AllowedNetworks"] ?? "127.0.0.0/8,::1/128")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(IPNetwork.Parse)
            .ToList();
        app.UseWhen(context => context.Request.Path == Path, branch => branch.Use(async (context, next) =>
        {
            var remote = context.Connection.RemoteIpAddress;
            if (remote is null || !allowed.Any(n => n.Contains(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote)))
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return;
            }
            await next();
        }));
        app.UseOpenTelemetryPrometheusScrapingEndpoint(Path);
        return app;
    }
}
