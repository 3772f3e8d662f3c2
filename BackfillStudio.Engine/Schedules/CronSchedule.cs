using System.Text.RegularExpressions;
using BackfillStudio.Engine.Common;
using Cronos;

namespace BackfillStudio.Engine.Schedules;

/// <summary>
/// A cron expression (five fields, or six with seconds first) in a time zone (an IANA id such as <c>Europe/Berlin</c>),
/// parsed with Cronos, which handles clock changes: a skipped local time runs at the change, a repeated one once.
/// </summary>
public sealed partial class CronSchedule
{
    /// <summary>The longest cron expression kept (the column's length).</summary>
    public const int MaxLength = 200;

    private readonly CronExpression _expression;

    private CronSchedule(CronExpression expression, TimeZoneInfo zone)
    {
        _expression = expression;
        Zone = zone;
    }

    public TimeZoneInfo Zone { get; }

    /// <summary>The schedule, or field errors on <c>cron</c> and <c>time_zone</c>.</summary>
    public static CronSchedule? Parse(string? cron, string? timeZone, ValidationErrors errors)
    {
        CronExpression? expression = null;
        if (string.IsNullOrWhiteSpace(cron))
            errors.Add("cron", "cron is required, e.g. '0 2 * * *' for 02:00 every day.");
        else if (cron.Trim().Length > MaxLength)
            errors.Add("cron", $"cron is {cron.Trim().Length} characters long; at most {MaxLength} are kept (use ranges such as 0-30 instead of lists).");
        else
        {
            var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            try
            {
                expression = fields switch
                {
                    5 => CronExpression.Parse(cron, CronFormat.Standard),
                    6 => CronExpression.Parse(cron, CronFormat.IncludeSeconds),
                    _ => null,
                };
                if (expression is null) errors.Add("cron", $"cron '{Messages.Shorten(cron)}' has {fields} fields; use 5 (minute hour day month weekday) or 6 (seconds first).");
            }
            catch (CronFormatException e)
            {
                errors.Add("cron", $"cron '{Messages.Shorten(cron)}' is not valid: {e.Message}");
            }
        }
        var zone = FindZone(timeZone, errors);
        if (expression is not null && zone is not null && expression.GetNextOccurrence(DateTimeOffset.UtcNow, zone) is null)
        {
            errors.Add("cron", $"cron '{Messages.Shorten(cron!)}' never occurs again.");
            return null;
        }
        return expression is null || zone is null ? null : new CronSchedule(expression, zone);
    }

    /// <summary>A schedule stored after it was validated.</summary>
    public static CronSchedule Load(string cron, string timeZone)
    {
        var errors = new ValidationErrors();
        return Parse(cron, timeZone, errors) ?? throw new InvalidOperationException($"Stored schedule '{cron}' in '{timeZone}' no longer parses.");
    }

    /// <summary>The first occurrence after <paramref name="after"/> (in UTC, as the config database stores it), or null when none is left.</summary>
    public DateTimeOffset? Next(DateTimeOffset after) => _expression.GetNextOccurrence(after, Zone)?.ToUniversalTime();

    /// <summary>The occurrences from <paramref name="from"/> to <paramref name="to"/>, both included, in UTC, lazily.</summary>
    public IEnumerable<DateTimeOffset> Between(DateTimeOffset from, DateTimeOffset to) =>
        _expression.GetOccurrences(from, to, Zone, fromInclusive: true, toInclusive: true).Select(o => o.ToUniversalTime());

    /// <summary>Up to <paramref name="count"/> occurrences from <paramref name="from"/> on (it included), in UTC.</summary>
    public IReadOnlyList<DateTimeOffset> Upcoming(DateTimeOffset from, int count)
    {
        var result = new List<DateTimeOffset>();
        var next = _expression.GetNextOccurrence(from, Zone, inclusive: true);
        while (next is { } at && result.Count < count)
        {
            result.Add(at.ToUniversalTime());
            next = _expression.GetNextOccurrence(at, Zone);
        }
        return result;
    }

    private static TimeZoneInfo? FindZone(string? id, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            errors.Add("time_zone", "time_zone is required, e.g. 'UTC' or 'Europe/Berlin'.");
            return null;
        }
        var zone = TryFindZone(id);
        if (zone is null)
            errors.Add("time_zone", $"time_zone '{Messages.Shorten(id)}' is not a known time zone; use an IANA name such as 'UTC' or 'Europe/Berlin'.");
        return zone;
    }

    /// <summary>
    /// The time zone of an IANA name, or null. Only names shaped like one are looked up: on Linux a name is a path under
    /// the zone database, and a folder ('Europe') or a path out of it must not be read.
    /// </summary>
    public static TimeZoneInfo? TryFindZone(string id)
    {
        if (id.Length > 64 || !ZoneName().IsMatch(id)) return null;
        try
        {
            return TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : null;
        }
        catch (Exception e) when (e is System.Security.SecurityException or UnauthorizedAccessException or IOException or InvalidTimeZoneException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex ZoneName();
}
