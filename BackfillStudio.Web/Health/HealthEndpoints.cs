using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackfillStudio.Web.Health;

/// <summary><c>/health/live</c>: the process answers. <c>/health/ready</c>: it can serve (config database reachable and migrated).</summary>
public static class HealthEndpoints
{
    private const string ReadyTag = "ready";

    public static IServiceCollection AddBackfillHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<ConfigDatabaseHealthCheck>("config_database", tags: [ReadyTag]);
        return services;
    }

    public static IEndpointRouteBuilder MapBackfillHealthChecks(this IEndpointRouteBuilder app)
    {
        // Load balancers and orchestrators probe without credentials; the answers hold no details worth hiding.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync })
            .AllowAnonymous();
        return app;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        }));
    }
}
