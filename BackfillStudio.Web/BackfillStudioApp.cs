using System.Text.Json;
using BackfillStudio.Engine;
using BackfillStudio.Web.Api;
using BackfillStudio.Web.Hosting;

namespace BackfillStudio.Web;

/// <summary>Builds the whole application: web UI and API, and the engine unless it is disabled.</summary>
public static class BackfillStudioApp
{
    public static async Task<WebApplication> BuildAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        using var startupLogs = LoggerFactory.Create(logging => logging.AddConfiguration(builder.Configuration.GetSection("Logging")).AddSimpleConsole());
        var embedded = await EmbeddedDefault.ResolveAsync(builder.Configuration, startupLogs.CreateLogger("BackfillStudio.Startup"));

        builder.Services.AddSingleton(embedded);
        builder.Services.AddBackfillStudio(builder.Configuration, embedded.ConfigConnectionString);
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DictionaryKeyPolicy = null;
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ApiExceptionHandler>();
        builder.Services.AddOpenApi();

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();

        await app.Services.MigrateConfigDatabaseAsync();
        if (embedded.Cluster is { } cluster)
        {
            await DemoSeeder.SeedAsync(app.Services, embedded, app.Logger);
            app.Lifetime.ApplicationStopped.Register(() => cluster.StopAsync().GetAwaiter().GetResult());
        }

        app.MapOpenApi();
        app.MapGroup("/api/v1").MapSourcesApi().MapDestinationsApi().MapPipelinesApi().MapBackfillApi();
        app.MapGet("/", () => TypedResults.Ok(new { name = "BackfillStudio", api = "/api/v1", openapi = "/openapi/v1.json" }))
            .ExcludeFromDescription();
        return app;
    }
}
