using System.Text.Json;
using BackfillStudio.Engine;
using BackfillStudio.Engine.Configuration;
using BackfillStudio.Web.Access;
using BackfillStudio.Web.Api;
using BackfillStudio.Web.Components;
using BackfillStudio.Web.Health;
using BackfillStudio.Web.Hosting;
using MudBlazor;
using MudBlazor.Services;
using Scalar.AspNetCore;

namespace BackfillStudio.Web;

/// <summary>
/// Builds the application in the role its configuration asks for: web UI and API with the engine
/// (default), web only (<c>Backfill:EngineEnabled=false</c>) or engine only (<c>Backfill:WebEnabled=false</c>).
/// </summary>
public static class BackfillStudioApp
{
    public static async Task<IHost> BuildAsync(string[] args)
    {
        var settings = new ConfigurationManager();
        settings.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true).AddEnvironmentVariables().AddCommandLine(args);
        var options = settings.GetSection(BackfillOptions.Section).Get<BackfillOptions>() ?? new BackfillOptions();
        if (options.WebEnabled) return await BuildWebAsync(args);
        if (!options.EngineEnabled) throw new InvalidOperationException("Backfill:WebEnabled and Backfill:EngineEnabled are both false: nothing to run.");
        return await BuildEngineOnlyAsync(args);
    }

    public static async Task<WebApplication> BuildWebAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            // Fixed so the static web assets manifest is found when the app is hosted by another entry point (tests, benchmarks).
            ApplicationName = typeof(BackfillStudioApp).Assembly.GetName().Name,
        });
        // Serves package assets (MudBlazor's CSS/JS) from a build output too, not only from a published wwwroot.
        builder.WebHost.UseStaticWebAssets();
        var embedded = await AddCoreAsync(builder);
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        // Bottom right: results never cover a page's title or its main action.
        builder.Services.AddMudServices(o => o.SnackbarConfiguration.PositionClass = Defaults.Classes.Position.BottomRight);
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DictionaryKeyPolicy = null;
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ApiExceptionHandler>();
        // A body or parameter that cannot be read throws in every environment, so the answer names the field (ApiExceptionHandler).
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddOpenApi();
        builder.Services.AddBackfillHealthChecks();
        builder.Services.AddBackfillMetrics();
        builder.Services.AddBackfillAccess(builder.Configuration);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        await PrepareAsync(app, embedded);
        await FirstAdmin.EnsureAsync(app.Services, app.Configuration, Console.Out);

        app.UseBackfillMetrics(app.Configuration);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapStaticAssets().AllowAnonymous();
        app.MapOpenApi();
        // The API reference is a page like the others: signed-in users see it, anonymous ones are sent to sign in.
        app.MapScalarApiReference("/api/reference", options => options.WithTitle("BackfillStudio API"));
        app.MapBackfillHealthChecks();
        app.MapGroup("/api/v1").RequireAuthorization(AccessRoles.ViewPolicy)
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden)
            .MapSourcesApi().MapDestinationsApi().MapPipelinesApi().MapBackfillApi().MapSchedulesApi().MapNotificationsApi();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }

    /// <summary>A node that only executes jobs: no HTTP endpoint, same config database and settings.</summary>
    public static async Task<IHost> BuildEngineOnlyAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var embedded = await AddCoreAsync(builder);
        var host = builder.Build();
        await PrepareAsync(host, embedded);
        return host;
    }

    private static async Task<EmbeddedDefault> AddCoreAsync(IHostApplicationBuilder builder)
    {
        using var startupLogs = LoggerFactory.Create(logging => logging.AddConfiguration(builder.Configuration.GetSection("Logging")).AddSimpleConsole());
        var embedded = await EmbeddedDefault.ResolveAsync(builder.Configuration, startupLogs.CreateLogger("BackfillStudio.Startup"));
        builder.Services.AddSingleton(embedded);
        builder.Services.AddBackfillStudio(builder.Configuration, embedded.ConfigConnectionString);
        builder.Services.AddBackfillTracing(builder.Configuration);
        return embedded;
    }

    /// <summary>Migrates the config database and, for the embedded default, seeds the demo and stops the cluster on shutdown.</summary>
    private static async Task PrepareAsync(IHost host, EmbeddedDefault embedded)
    {
        await host.Services.MigrateConfigDatabaseAsync();
        if (embedded.Cluster is not { } cluster) return;
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("BackfillStudio.Startup");
        await DemoSeeder.SeedAsync(host.Services, embedded, logger);
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped
            .Register(() => cluster.StopAsync().GetAwaiter().GetResult());
    }
}
