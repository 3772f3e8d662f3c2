using System.Globalization;

namespace BackfillStudio.Engine.Catalog;

/// <summary>
/// PostgreSQL's own representation of dates and times, which the engine carries unchanged: .NET's
/// DateOnly/DateTime hold neither <c>infinity</c>, BC dates, years after 9999 nor <c>24:00:00</c>.
/// </summary>
public static class PgTemporal
{
    public const int DateInfinity = int.MaxValue;
    public const int DateMinusInfinity = int.MinValue;
    public const long TimestampInfinity = long.MaxValue;
    public const long TimestampMinusInfinity = long.MinValue;
    public const long MicrosecondsPerDay = 86_400_000_000;

    /// <summary>Days from 1970-01-01 (Unix epoch) to 2000-01-01 (PostgreSQL's epoch).</summary>
    public const int UnixToPostgresDays = 10_957;
    public const long UnixToPostgresMicroseconds = UnixToPostgresDays * MicrosecondsPerDay;

    public static bool IsInfinite(int days) => days is DateInfinity or DateMinusInfinity;

    public static bool IsInfinite(long microseconds) => microseconds is TimestampInfinity or TimestampMinusInfinity;

    /// <summary>The day (since 2000-01-01) a finite timestamp falls on, rounding down before 2000 too.</summary>
    public static long DayOf(long microseconds) => Math.DivRem(microseconds, MicrosecondsPerDay, out var rest) - (rest < 0 ? 1 : 0);

    /// <summary>Year, month and day of a day count from 2000-01-01 in the proleptic Gregorian calendar (year 0 = 1 BC).</summary>
    public static (long Year, int Month, int Day) Civil(long daysSince2000)
    {
        // Howard Hinnant's days_from_civil inverse, shifted to 0000-03-01.
        var z = daysSince2000 + UnixToPostgresDays + 719_468;
        var era = (z >= 0 ? z : z - 146_096) / 146_097;
        var doe = z - era * 146_097;
        var yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        var doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        var mp = (5 * doy + 2) / 153;
        var day = (int)(doy - (153 * mp + 2) / 5 + 1);
        var month = (int)(mp < 10 ? mp + 3 : mp - 9);
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day);
    }

    /// <summary>The value as PostgreSQL prints it (ISO style), for messages.</summary>
    public static string Format(ValueKind kind, object value) => (kind, value) switch
    {
        (ValueKind.Date, int days) => days switch
        {
            DateInfinity => "infinity",
            DateMinusInfinity => "-infinity",
            _ => FormatDate(days),
        },
        (ValueKind.Time, long micros) => FormatTime(micros),
        (ValueKind.Timestamp or ValueKind.TimestampTz, long micros) => micros switch
        {
            TimestampInfinity => "infinity",
            TimestampMinusInfinity => "-infinity",
            _ => $"{FormatDate(DayOf(micros))} {FormatTime(micros - DayOf(micros) * MicrosecondsPerDay)}{(kind == ValueKind.TimestampTz ? "+00" : "")}",
        },
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    private static string FormatDate(long days)
    {
        var (year, month, day) = Civil(days);
        var bc = year <= 0;
        return $"{(bc ? 1 - year : year):0000}-{month:00}-{day:00}{(bc ? " BC" : "")}";
    }

    private static string FormatTime(long micros)
    {
        var seconds = Math.DivRem(micros, 1_000_000, out var fraction);
        var text = $"{seconds / 3600:00}:{seconds / 60 % 60:00}:{seconds % 60:00}";
        return fraction == 0 ? text : $"{text}.{fraction:000000}".TrimEnd('0');
    }
}
