using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Schedules;

namespace BackfillStudio.Tests.Schedules;

/// <summary>Relative filter values resolve on the schedule zone's wall clock (calendar steps) and elapsed time (h, min, s).</summary>
public sealed class RelativeTimeTests
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    [Theory]
    // 00:30 UTC is already the 29th in Berlin (CET, +01): "today" is Berlin's day.
    [InlineData("today-1d", "2026-03-29T00:30:00Z", ValueKind.Date, "2026-03-28")]
    [InlineData("today-1d", "2026-03-29T00:30:00Z", ValueKind.TimestampTz, "2026-03-28 00:00:00+01:00")]
    [InlineData("yesterday", "2026-03-29T00:30:00Z", ValueKind.Timestamp, "2026-03-28 00:00:00")]
    // Clocks went forward at 01:00 UTC: two elapsed hours before 04:30 CEST are 01:30 CET.
    [InlineData("now-2h", "2026-03-29T02:30:00Z", ValueKind.TimestampTz, "2026-03-29 01:30:00+01:00")]
    [InlineData("now - 2h", "2026-03-29T02:30:00Z", ValueKind.Timestamp, "2026-03-29 01:30:00")]
    // A calendar day back from 04:30 CEST is 04:30 CET the day before: 23 elapsed hours.
    [InlineData("now-1d", "2026-03-29T02:30:00Z", ValueKind.TimestampTz, "2026-03-28 04:30:00+01:00")]
    [InlineData("start_of_month-1mo", "2026-01-15T12:00:00Z", ValueKind.Date, "2025-12-01")]
    [InlineData("start_of_year+1y-1d", "2026-06-01T12:00:00Z", ValueKind.Date, "2026-12-31")]
    // 2026-11-29 is a Sunday; weeks start on Monday.
    [InlineData("start_of_week", "2026-11-29T12:00:00Z", ValueKind.Date, "2026-11-23")]
    [InlineData("START_OF_WEEK+1w", "2026-11-29T12:00:00Z", ValueKind.Date, "2026-11-30")]
    [InlineData("now+90min+30s", "2026-11-29T12:00:00Z", ValueKind.TimestampTz, "2026-11-29 14:30:30+01:00")]
    public void ResolvesInTheSchedulesZone(string text, string at, ValueKind kind, string expected)
    {
        Assert.True(RelativeTime.TryParse(text, out var relative), text);
        Assert.Equal(expected, relative!.Format(DateTimeOffset.Parse(at), Berlin, kind));
    }

    [Fact]
    public void TodayIsTheZonesDay_NotUtcs()
    {
        var kiritimati = TimeZoneInfo.FindSystemTimeZoneById("Pacific/Kiritimati");
        Assert.True(RelativeTime.TryParse("today", out var today));
        Assert.Equal("2026-11-29", today!.Format(DateTimeOffset.Parse("2026-11-28T12:00:00Z"), kiritimati, ValueKind.Date));
        Assert.Equal("2026-11-28", today.Format(DateTimeOffset.Parse("2026-11-28T12:00:00Z"), TimeZoneInfo.Utc, ValueKind.Date));
    }

    [Theory]
    [InlineData("today-1x")]
    [InlineData("today-")]
    [InlineData("later")]
    [InlineData("now-1d; DROP TABLE x")]
    [InlineData("today-999999d")]
    public void RejectsWhatIsNotARelativeTime(string text) => Assert.False(RelativeTime.TryParse(text, out _));

    [Theory]
    [InlineData("2024-01-01", false)]
    [InlineData("infinity", false)]
    [InlineData("-infinity", false)]
    [InlineData("epoch", false)]
    [InlineData("today-1x", true)]
    [InlineData(" now", true)]
    public void TellsRelativeValuesFromLiterals(string text, bool relative) => Assert.Equal(relative, RelativeTime.LooksRelative(text));
}
