using System.Security.Cryptography.X509Certificates;
using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Destinations.Snowflake;
using BackfillStudio.Engine.Events;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Notifications;
using BackfillStudio.Engine.Observability;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Pipelines;
using BackfillStudio.Engine.Schedules;
using BackfillStudio.Engine.Security;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Engine.Verification;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine;

public static class EngineServiceCollectionExtensions
{
    /// <summary>
    /// Registers the config store, application services and live events; and, unless
    /// <c>Backfill:EngineEnabled</c> is false, the worker that executes jobs.
    /// </summary>
    public static IServiceCollection AddBackfillStudio(this IServiceCollection services, IConfiguration configuration, string configConnectionString)
    {
        services.AddOptions<BackfillOptions>().BindConfiguration(BackfillOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<NotificationOptions>().BindConfiguration(NotificationOptions.Section)
            .Configure(o => o.PublicUrl = configuration["App:PublicUrl"] is { Length: > 0 } url ? url : o.PublicUrl)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SmtpOptions>().BindConfiguration(SmtpOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddDbContextFactory<ConfigDbContext>(o => ConfigDatabase.Configure(o, configConnectionString));
        services.AddSingleton(_ => new ConfigDataSource(configConnectionString));
        var keys = services.AddDataProtection().SetApplicationName("BackfillStudio").PersistKeysToDbContext<ConfigDbContext>();
        // In production the keys (which decrypt every stored secret) are themselves encrypted with a certificate all nodes share.
        if (configuration["DataProtection:CertificatePath"] is { Length: > 0 } certificatePath)
            keys.ProtectKeysWithCertificate(X509CertificateLoader.LoadPkcs12FromFile(certificatePath, configuration["DataProtection:CertificatePassword"]));

        services.AddSingleton<SecretProtector>();
        services.AddSingleton<EngineIdentity>();
        services.AddSingleton<EngineRegistry>();
        services.AddSingleton<JobEventBus>();
        services.AddSingleton<JobQueueSignal>();
        services.AddSingleton<JobCancelSignal>();
        services.AddSingleton<JobStateStore>();
        services.AddSingleton<DestinationWriterFactory>();
        // The SQL API waits up to 45 s before answering 202 (long statements are then polled), so a wait longer than the
        // stall timeout (120 s by default; keep it above 45 s with Snowflake destinations) means silence.
        // A result's further partitions may come gzip-compressed.
        services.AddHttpClient(SnowflakeDestinationType.HttpClientName).ConfigureHttpClient((provider, client) =>
                client.Timeout = TimeSpan.FromSeconds(provider.GetRequiredService<IOptions<BackfillOptions>>().Value.StallTimeoutSeconds))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.All });
        services.AddSingleton<SourceService>();
        services.AddSingleton<DestinationService>();
        services.AddSingleton<PipelineService>();
        services.AddSingleton<JobService>();
        services.AddSingleton<JobPlanLoader>();
        services.AddSingleton<JobRunner>();
        services.AddSingleton<VerificationStore>();
        services.AddSingleton<VerificationRunner>();
        services.AddSingleton<NotificationService>();
        services.AddSingleton<ScheduleService>();
        services.AddMetrics();
        services.AddSingleton<BackfillMetrics>();
        services.AddSingleton<JobNotificationListener>();
        services.AddHostedService(sp => sp.GetRequiredService<JobNotificationListener>());

        var engineEnabled = configuration.GetValue($"{BackfillOptions.Section}:{nameof(BackfillOptions.EngineEnabled)}", true);
        if (engineEnabled)
        {
            services.AddHostedService<BackfillWorker>();
            services.AddHostedService<NotificationDispatcher>();
            services.AddHostedService<ScheduleRunner>();
        }
        return services;
    }

    /// <summary>Applies pending EF Core migrations to the config database.</summary>
    public static async Task MigrateConfigDatabaseAsync(this IServiceProvider services, CancellationToken ct = default)
    {
        var factory = services.GetRequiredService<IDbContextFactory<ConfigDbContext>>();
        await using var db = await factory.CreateDbContextAsync(ct);
        await db.Database.MigrateAsync(ct);
    }
}
