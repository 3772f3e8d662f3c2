using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Destinations.DuckDb;
using BackfillStudio.Engine.Destinations.Parquet;
using BackfillStudio.Engine.Destinations.Postgres;
using BackfillStudio.Engine.Destinations.Snowflake;
using BackfillStudio.Engine.Security;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Engine.Verification;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Destinations;

public sealed class DestinationWriterFactory(IOptions<BackfillOptions> options, IHttpClientFactory httpClients)
{
    public const string SnowflakeHttpClient = "snowflake";

    public IDestinationWriter Create(DestinationSettings settings, WriteTarget target) => settings switch
    {
        PostgresDestinationSettings s => new PostgresDestinationWriter(s, target, TimeSpan.FromSeconds(options.Value.DdlLockTimeoutSeconds)),
        DuckDbDestinationSettings s => new DuckDbDestinationWriter(s, target, options.Value.DuckDbMemoryLimit),
        ParquetDestinationSettings s => new ParquetDestinationWriter(s, target),
        SnowflakeDestinationSettings s => new SnowflakeDestinationWriter(SnowflakeClient(s), s, target),
        _ => throw new NotSupportedException($"No writer for {settings.GetType().Name}."),
    };

    /// <param name="destination">How messages name the destination.</param>
    public IDestinationVerifier CreateVerifier(DestinationSettings settings, VerifyScope scope, string destination) => settings switch
    {
        PostgresDestinationSettings s => new PostgresVerifier(s, scope, destination),
        DuckDbDestinationSettings s => new DuckDbVerifier(s, scope, destination),
        ParquetDestinationSettings s => new ParquetVerifier(s, scope, destination),
        SnowflakeDestinationSettings s => new SnowflakeVerifier(SnowflakeClient(s), s, scope, destination),
        _ => throw new NotSupportedException($"No verifier for {settings.GetType().Name}."),
    };

    public SnowflakeSqlApiClient SnowflakeClient(SnowflakeDestinationSettings settings) =>
        new(httpClients.CreateClient(SnowflakeHttpClient), settings, TimeProvider.System);

    private async Task<string> TestSnowflakeAsync(SnowflakeDestinationSettings settings, CancellationToken ct)
    {
        using var client = SnowflakeClient(settings);
        return await SnowflakeDestinationWriter.TestAsync(client, ct);
    }

    public async Task<ConnectionTestResult> TestAsync(DestinationSettings settings, CancellationToken ct)
    {
        try
        {
            var version = settings switch
            {
                PostgresDestinationSettings s => await PostgresDestinationWriter.TestAsync(s, ct),
                DuckDbDestinationSettings s => await DuckDbDestinationWriter.TestAsync(s),
                ParquetDestinationSettings s => await ParquetDestinationWriter.TestAsync(s),
                SnowflakeDestinationSettings s => await TestSnowflakeAsync(s, ct),
                _ => throw new NotSupportedException($"No connection test for {settings.GetType().Name}."),
            };
            return new ConnectionTestResult(true, version, null);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            return new ConnectionTestResult(false, null, SecretScrubber.Scrub(e.Message, settings.Secrets));
        }
    }
}
