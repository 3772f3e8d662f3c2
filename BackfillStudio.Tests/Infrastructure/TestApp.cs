using System.Net.Http.Json;
using System.Text.Json;
using BackfillStudio.Engine.Events;
using BackfillStudio.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>The real application (Kestrel on a free loopback port, engine included unless disabled) on a test config database.</summary>
public sealed class TestApp : IAsyncDisposable
{
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly WebApplication _app;

    public HttpClient Http { get; }
    public IServiceProvider Services => _app.Services;
    public Uri BaseAddress { get; }

    private TestApp(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ApiKey);
    }

    /// <summary>The first admin's password and a bootstrap (Admin) API key, set on every test app.</summary>
    public const string AdminPassword = "Test-Admin-Pa55word";
    public const string ApiKey = "test-bootstrap-api-key-5f0e2c9d";

    public static async Task<TestApp> StartAsync(string configConnectionString, params string[] settings)
    {
        string[] args =
        [
            $"--ConnectionStrings:Config={configConnectionString}",
            $"--Auth:AdminPassword={AdminPassword}",
            $"--Auth:BootstrapApiKey={ApiKey}",
            "--urls=http://127.0.0.1:0",
            "--Backfill:PollIntervalSeconds=1",
            "--Logging:LogLevel:Default=Warning",
            .. settings,
        ];
        var app = await BackfillStudioApp.BuildWebAsync(args);
        await app.StartAsync();
        await app.Services.GetRequiredService<JobNotificationListener>().Listening.WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestApp(app, new Uri(address));
    }

    public T Get<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        // Dozens of apps start in one test run; their idle pooled connections would pile up on the server.
        NpgsqlConnection.ClearAllPools();
    }
}
