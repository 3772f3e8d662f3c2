using System.Text.Json;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Notifications;

/// <param name="Type"><c>webhook</c> (the default) or <c>email</c>.</param>
/// <param name="Url">A webhook's address.</param>
/// <param name="Secret">A webhook's HMAC signing secret (at least 16 characters); write-only. Left out on update: the stored one stays.</param>
/// <param name="Recipients">An e-mail channel's addresses.</param>
/// <param name="PipelineIds">The pipelines whose jobs it hears of; null or empty: all.</param>
/// <param name="Events">Any of COMPLETED, FAILED, CANCELLED, MISMATCH.</param>
public sealed record NotificationChannelInput(string? Name, string? Type, string? Url, string? Secret, IReadOnlyList<int>? PipelineIds,
    IReadOnlyList<string>? Events, IReadOnlyList<string>? Recipients = null);

/// <summary>A channel as the API shows it: never its secret.</summary>
public sealed record NotificationChannelView(int Id, string Name, string Type, string? Url, bool HasSecret, IReadOnlyList<string>? Recipients,
    IReadOnlyList<int>? PipelineIds, IReadOnlyList<string> Events, DateTimeOffset CreatedAt);

public sealed record NotificationDeliveryView(long Id, Guid DeliveryId, string Event, int? JobId, string Status, int Attempts, string? LastError,
    DateTimeOffset CreatedAt, DateTimeOffset? DeliveredAt, DateTimeOffset NextAttemptAt);

/// <summary>Manages notification channels and reads their delivery logs; used by the REST API and the UI alike.</summary>
public sealed class NotificationService(IDbContextFactory<ConfigDbContext> dbFactory, SecretProtector protector, IOptions<SmtpOptions> smtp)
{
    public const string Webhook = "webhook";
    public const string Email = "email";
    private const int MinSecretLength = 16;

    public async Task<IReadOnlyList<NotificationChannelView>> ListAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return (await db.NotificationChannels.AsNoTracking().OrderBy(c => c.Id).ToListAsync(ct)).Select(ToView).ToList();
    }

    public async Task<NotificationChannelView> GetAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return ToView(await FindAsync(db, id, ct));
    }

    public async Task<NotificationChannelView> CreateAsync(NotificationChannelInput input, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entity = new NotificationChannelEntity { Name = "", Type = Webhook, CreatedAt = DateTimeOffset.UtcNow };
        await ApplyAsync(db, entity, input, ct);
        db.NotificationChannels.Add(entity);
        await db.SaveChangesAsync(ct);
        return ToView(entity);
    }

    public async Task<NotificationChannelView> UpdateAsync(int id, NotificationChannelInput input, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entity = await FindAsync(db, id, ct);
        await ApplyAsync(db, entity, input, ct);
        await db.SaveChangesAsync(ct);
        return ToView(entity);
    }

    /// <summary>Deletes the channel and its delivery log; deliveries not yet made are dropped.</summary>
    public async Task DeleteAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.NotificationChannels.Remove(await FindAsync(db, id, ct));
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Queues a TEST event for the channel; an engine delivers it like any other (see the delivery log).</summary>
    public async Task<NotificationDeliveryView> SendTestAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var channel = await FindAsync(db, id, ct);
        var delivery = new NotificationDeliveryEntity
        {
            ChannelId = channel.Id, DeliveryId = Guid.NewGuid(), Event = NotificationEvents.Test, Status = DeliveryStatus.Pending,
            Payload = JsonSerializer.Serialize(new { message = $"Test notification from BackfillStudio to channel '{channel.Name}'." }),
            NextAttemptAt = DateTimeOffset.UtcNow, CreatedAt = DateTimeOffset.UtcNow,
        };
        db.NotificationDeliveries.Add(delivery);
        await db.SaveChangesAsync(ct);
        return ToView(delivery);
    }

    /// <summary>The channel's latest deliveries, newest first.</summary>
    public async Task<IReadOnlyList<NotificationDeliveryView>> DeliveriesAsync(int id, int limit, CancellationToken ct)
    {
        if (limit is < 1 or > 1000) throw ValidationFailedException.For("limit", "limit must be between 1 and 1000.");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await FindAsync(db, id, ct);
        return (await db.NotificationDeliveries.AsNoTracking().Where(d => d.ChannelId == id).OrderByDescending(d => d.Id).Take(limit).ToListAsync(ct))
            .Select(ToView).ToList();
    }

    private async Task ApplyAsync(ConfigDbContext db, NotificationChannelEntity entity, NotificationChannelInput input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        var errors = new ValidationErrors();
        var name = input.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 200) errors.Add("name", "name is required (at most 200 characters).");
        else if (StoredText.Unstorable(name) is { } unstorable) errors.Add("name", $"name must not contain {unstorable}.");
        else if (await db.NotificationChannels.AnyAsync(c => c.Name == name && c.Id != entity.Id, ct))
            errors.Add("name", $"A notification channel named '{Messages.Shorten(name)}' exists already.");
        var type = input.Type?.Trim().ToLowerInvariant() ?? Webhook;
        var keepsSecret = input.Secret is null && entity.SecretProtected is not null && entity.Type == Webhook;
        string[]? recipients = null;
        if (type == Webhook)
        {
            if (UrlError(input.Url) is { } urlError) errors.Add("url", urlError);
            if (!keepsSecret && (input.Secret is null || input.Secret.Length < MinSecretLength))
                errors.Add("secret", $"secret is required: at least {MinSecretLength} characters, which the receiver uses to check each request's signature.");
        }
        else if (type == Email)
        {
            if (string.IsNullOrWhiteSpace(smtp.Value.Host)) errors.Add("type", "email needs an SMTP server: set Smtp:Host (and Smtp:Port, Smtp:From, ...) in the configuration.");
            recipients = (input.Recipients ?? []).Select(r => r?.Trim() ?? "").Distinct().ToArray();
            if (recipients.Length == 0) errors.Add("recipients", "recipients must name at least one e-mail address.");
            foreach (var bad in recipients.Where(r => !MimeKit.MailboxAddress.TryParse(r, out var address) || !address.Address.Contains('@')))
                errors.Add("recipients", $"'{Messages.Shorten(bad)}' is not an e-mail address.");
        }
        else
        {
            errors.Add("type", $"type '{Messages.Shorten(type)}' is not one of {Webhook}, {Email}.");
        }
        var events = (input.Events ?? []).Select(e => e?.Trim().ToUpperInvariant() ?? "").Distinct().ToArray();
        if (events.Length == 0) errors.Add("events", $"events must name at least one of {string.Join(", ", NotificationEvents.All)}.");
        foreach (var unknown in events.Except(NotificationEvents.All))
            errors.Add("events", $"event '{Messages.Shorten(unknown)}' is not one of {string.Join(", ", NotificationEvents.All)}.");
        var pipelines = input.PipelineIds is { Count: > 0 } ids ? ids.Distinct().ToArray() : null;
        if (pipelines is not null)
        {
            var known = await db.Pipelines.AsNoTracking().Where(p => pipelines.Contains(p.Id)).Select(p => p.Id).ToListAsync(ct);
            foreach (var missing in pipelines.Except(known)) errors.Add("pipeline_ids", $"Pipeline {missing} does not exist.");
        }
        errors.ThrowIfAny();

        entity.Name = name!;
        entity.Type = type;
        entity.Url = type == Webhook ? input.Url!.Trim() : null;
        entity.Recipients = recipients;
        if (!keepsSecret) entity.SecretProtected = type == Webhook ? protector.Protect(input.Secret) : null;
        entity.PipelineIds = pipelines;
        entity.Events = events;
    }

    /// <summary>Webhooks go over https; http only to this machine (a receiver under test, a local relay).</summary>
    private static string? UrlError(string? url)
    {
        if (string.IsNullOrWhiteSpace(url)) return "url is required.";
        if (StoredText.Unstorable(url) is { } unstorable) return $"url must not contain {unstorable}.";
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            return "url must be an absolute https URL.";
        if (uri.Scheme == "http" && !uri.IsLoopback) return "url must use https (http is allowed for localhost only).";
        return url.Length > 2000 ? "url must be at most 2000 characters." : null;
    }

    private static async Task<NotificationChannelEntity> FindAsync(ConfigDbContext db, int id, CancellationToken ct) =>
        await db.NotificationChannels.FirstOrDefaultAsync(c => c.Id == id, ct) ?? throw new NotFoundException($"Notification channel {id} does not exist.");

    private static NotificationChannelView ToView(NotificationChannelEntity c) =>
        new(c.Id, c.Name, c.Type, c.Url, c.SecretProtected is not null, c.Recipients, c.PipelineIds, c.Events, c.CreatedAt);

    private static NotificationDeliveryView ToView(NotificationDeliveryEntity d) =>
        new(d.Id, d.DeliveryId, d.Event, d.JobId, d.Status, d.Attempts, d.LastError, d.CreatedAt, d.DeliveredAt, d.NextAttemptAt);
}
