using Microsoft.Extensions.Logging;
using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Security;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Engine.Verification;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Destinations;

/// <summary>Gives each destination's <see cref="DestinationType"/> the engine's run-time context: writers, verifiers, connection tests.</summary>
public sealed class DestinationWriterFactory(IOptions<BackfillOptions> options, IHttpClientFactory httpClients, ILoggerFactory loggers)
{
    private DestinationContext Context => new(options.Value, httpClients, loggers);

    public IDestinationWriter Create(DestinationSettings settings, WriteTarget target) =>
        DestinationTypes.Of(settings).CreateWriter(settings, target, Context);

    /// <param name="destination">How messages name the destination.</param>
    public IDestinationVerifier CreateVerifier(DestinationSettings settings, VerifyScope scope, string destination) =>
        DestinationTypes.Of(settings).CreateVerifier(settings, scope, destination, Context);

    public async Task<ConnectionTestResult> TestAsync(DestinationSettings settings, CancellationToken ct)
    {
        try
        {
            return new ConnectionTestResult(true, await DestinationTypes.Of(settings).TestAsync(settings, Context, ct), null);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            return new ConnectionTestResult(false, null, SecretScrubber.Scrub(e.Message, settings.Secrets));
        }
    }
}
