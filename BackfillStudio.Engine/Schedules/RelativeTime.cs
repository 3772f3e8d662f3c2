using System.Globalization;
using System.Text.RegularExpressions;
using BackfillStudio.Engine.Catalog;

namespace BackfillStudio.Engine.Schedules;

/// <summary>
/// A filter value relative to a schedule's occurrence: an anchor (<c>now</c>, <c>today</c>, <c>yesterday</c>,
/// <c>tomorrow</c>, <c>start_of_week</c> (Monday), <c>start_of_month</c>, <c>start_of_year</c>) and any number of
/// <c>+N</c>/<c>-N</c> steps in <c>s</c>, <c>min</c>, <c>h</c>, <c>d</c>, <c>w</c>, <c>mo</c> or <c>y</c>, e.g.
/// <c>today-1d</c>, <c>now-2h</c>, <c>start_of_month-1mo</c>. Anchors and calendar steps follow the wall clock of the
/// schedule's time zone; s, min and h steps are elapsed time.
/// </summary>
public sealed partial class RelativeTime
{
    public const string Help = "use now, today, yesterday, tomorrow, start_of_week, start_of_month or start_of_year, "
        + "optionally followed by steps such as -1d or +2h (units s, min, h, d, w, mo, y), e.g. today-1d";

    private readonly string _anchor;
    private readonly IReadOnlyList<(int Amount, string Unit)> _steps;

    private RelativeTime(string anchor, IReadOnlyList<(int Amount, string Unit)> steps)
    {
        _anchor = anchor;
        _steps = steps;
    }

    /// <summary>Whether a value of this column kind may be relative: dates and timestamps.</summary>
    public static bool Applies(ValueKind kind) => kind is ValueKind.Date or ValueKind.Timestamp or ValueKind.TimestampTz;

    /// <summary>Whether the text is meant as a relative time (it starts with a letter and is not one of PostgreSQL's own words).</summary>
    public static bool LooksRelative(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length > 0 && char.IsAsciiLetter(trimmed[0])
            && trimmed.ToLowerInvariant() is not ("infinity" or "epoch" or "allballs");
    }

    public static bool TryParse(string text, out RelativeTime? value)
    {
        value = null;
        var match = Pattern().Match(text.Trim().ToLowerInvariant());
        if (!match.Success) return false;
        var steps = new List<(int, string)>();
        foreach (Capture step in match.Groups["step"].Captures)
        {
            var parts = StepPattern().Match(step.Value);
            if (!int.TryParse(parts.Groups["n"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 100_000) return false;
            steps.Add((parts.Groups["sign"].Value == "-" ? -n : n, parts.Groups["unit"].Value));
        }
        value = new RelativeTime(match.Groups["anchor"].Value, steps);
        return true;
    }

    /// <summary>The moment this names at <paramref name="at"/>, in <paramref name="zone"/>.</summary>
    public DateTimeOffset At(DateTimeOffset at, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(at, zone);
        var today = local.DateTime.Date;
        var value = _anchor switch
        {
            "now" => local,
            "today" => InZone(today, zone),
            "yesterday" => InZone(today.AddDays(-1), zone),
            "tomorrow" => InZone(today.AddDays(1), zone),
            "start_of_week" => InZone(today.AddDays(-(((int)today.DayOfWeek + 6) % 7)), zone),
            "start_of_month" => InZone(new DateTime(today.Year, today.Month, 1), zone),
            _ => InZone(new DateTime(today.Year, 1, 1), zone),
        };
        foreach (var (amount, unit) in _steps)
        {
            value = unit switch
            {
                "s" => TimeZoneInfo.ConvertTime(value.AddSeconds(amount), zone),
                "min" => TimeZoneInfo.ConvertTime(value.AddMinutes(amount), zone),
                "h" => TimeZoneInfo.ConvertTime(value.AddHours(amount), zone),
                "d" => InZone(value.DateTime.AddDays(amount), zone),
                "w" => InZone(value.DateTime.AddDays(7 * amount), zone),
                "mo" => InZone(value.DateTime.AddMonths(amount), zone),
                _ => InZone(value.DateTime.AddYears(amount), zone),
            };
        }
        return value;
    }

    /// <summary>The value as the column's type reads it: a date, a wall-clock timestamp in the zone, or a timestamp with its offset.</summary>
    public string Format(DateTimeOffset at, TimeZoneInfo zone, ValueKind kind)
    {
        var value = At(at, zone);
        return kind switch
        {
            ValueKind.Date => value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ValueKind.Timestamp => value.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            _ => value.ToString("yyyy-MM-dd HH:mm:sszzz", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>A wall-clock time in the zone (a time skipped by a clock change takes the zone's standard offset).</summary>
    private static DateTimeOffset InZone(DateTime wall, TimeZoneInfo zone)
    {
        var unspecified = DateTime.SpecifyKind(wall, DateTimeKind.Unspecified);
        return new DateTimeOffset(unspecified, zone.GetUtcOffset(unspecified));
    }

    [GeneratedRegex(@"^(?<anchor>now|today|yesterday|tomorrow|start_of_week|start_of_month|start_of_year)(?<step>\s*[+-]\s*\d+\s*(s|min|h|d|w|mo|y))*$",
        RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    [GeneratedRegex(@"(?<sign>[+-])\s*(?<n>\d+)\s*(?<unit>s|min|h|d|w|mo|y)", RegexOptions.CultureInvariant)]
    private static partial Regex StepPattern();
}
