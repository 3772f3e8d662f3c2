using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// A local stand-in for Snowflake's SQL API v2: key-pair JWT authentication, statements (with bindings and
/// multi-statement requests), status polling and cancellation, served by Kestrel on a free loopback port and
/// executed on a DuckDB file that tests can open themselves. Faults can be injected per statement.
/// </summary>
public sealed class SnowflakeEmulator : IAsyncDisposable
{
    private const string DatabaseFileName = "snowflake.duckdb";

    private readonly string _directory;
    private readonly StatementExecutor _executor;
    private readonly SqlApiHandler _handler;
    private readonly WebApplication _app;

    /// <summary>The server's root, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The DuckDB file behind the emulator; open it with the same path to share the database in-process.</summary>
    public string DatabasePath => Path.Combine(_directory, DatabaseFileName);

    /// <summary>Every request received, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => _handler.Log.Requests;

    /// <summary>The most requests that were being answered at one time.</summary>
    public int PeakConcurrentRequests => _handler.PeakInFlight;

    /// <summary>The handles clients asked to cancel, as sent.</summary>
    public IReadOnlyList<string> CancelledHandles => _handler.Log.CancelledHandles;

    private SnowflakeEmulator(string directory, StatementExecutor executor, SqlApiHandler handler, WebApplication app, Uri baseUrl)
    {
        _directory = directory;
        _executor = executor;
        _handler = handler;
        _app = app;
        BaseUrl = baseUrl;
    }

    public static async Task<SnowflakeEmulator> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("snowflake-emulator-").FullName;
        StatementExecutor? executor = null;
        WebApplication? app = null;
        try
        {
            executor = StatementExecutor.Open(Path.Combine(directory, DatabaseFileName));
            var handler = new SqlApiHandler(executor);
            // The content root is the empty temp directory, so no appsettings.json can add Kestrel endpoints.
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = directory });
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            app = builder.Build();
            app.Run(handler.HandleAsync);
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new SnowflakeEmulator(directory, executor, handler, app, new Uri(address));
        }
        catch
        {
            if (app is not null) await app.DisposeAsync();
            executor?.Dispose();
            DeleteDirectory(directory);
            throw;
        }
    }

    /// <summary>Lets <paramref name="user"/> of <paramref name="account"/> authenticate with JWTs signed by the matching private key.</summary>
    public void RegisterUser(string account, string user, RSA publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        _handler.Users.Register(account, user, publicKey);
    }

    /// <summary>Makes the three names valid in requests and creates the DuckDB schema named exactly <paramref name="schema"/>.</summary>
    public void AddDatabase(string database, string schema, string warehouse)
    {
        _executor.CreateSchema(schema);
        _handler.Catalog.Add(database, schema, warehouse);
    }

    /// <summary>
    /// Most rows a result's partition holds: a larger result is cut into partitions, the answer holding the first and
    /// <c>GET /api/v2/statements/{handle}?partition=N</c> the others, as Snowflake answers a large result.
    /// </summary>
    public int PartitionRows
    {
        get => _handler.PartitionRows;
        set => _handler.PartitionRows = value;
    }

    /// <summary>The next <paramref name="times"/> statement requests whose statement text matches get <paramref name="fault"/>.</summary>
    public void Inject(Func<string, bool> statementMatches, EmulatorFault fault, int times = 1)
    {
        ArgumentNullException.ThrowIfNull(statementMatches);
        ArgumentNullException.ThrowIfNull(fault);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(times);
        _handler.Faults.Add(statementMatches, fault, times);
    }

    /// <summary>How many times the statements of this requestId were run on DuckDB (retries answered from the stored result do not count).</summary>
    public int ExecutionCount(string requestId) =>
        Guid.TryParse(requestId, out var id) ? _handler.Statements.Executions(id) : 0;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _executor.Dispose();
        DeleteDirectory(_directory);
    }

    private static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A test may still hold the database open, which blocks deletion on Windows; the temp directory stays.
        }
    }
}
