using System.Text.RegularExpressions;

namespace BackfillStudio.Engine.Destinations;

/// <summary>
/// Whether a target table that was there before the job (made by hand, or by an earlier backfill before the source's
/// column was retyped) takes a column's values unchanged. The types are compared as the destination spells them: the
/// existing column's against the type the job declares for it (read back from a table the job made).
/// </summary>
public static partial class ExistingColumnTypes
{
    /// <summary>
    /// True when a column of type <paramref name="existing"/> holds every value of <paramref name="declared"/> unchanged:
    /// the same type; a decimal with at least the declared scale and integer digits (a smaller scale rounds every value
    /// silently, in DuckDB and Snowflake alike); or text or binary of another maximum length, which refuses a value too
    /// long instead of cutting it (Snowflake's defaults for these lengths also changed over the years).
    /// </summary>
    public static bool Holds(string existing, string declared)
    {
        if (string.Equals(existing, declared, StringComparison.OrdinalIgnoreCase)) return true;
        if (Decimal().Match(existing) is { Success: true } e && Decimal().Match(declared) is { Success: true } d)
        {
            var (precision, scale) = (int.Parse(e.Groups[1].Value), int.Parse(e.Groups[2].Value));
            var (declaredPrecision, declaredScale) = (int.Parse(d.Groups[1].Value), int.Parse(d.Groups[2].Value));
            return scale >= declaredScale && precision - scale >= declaredPrecision - declaredScale;
        }
        return SizedText().Match(existing) is { Success: true } t && SizedText().Match(declared) is { Success: true } u
               && string.Equals(t.Groups[1].Value, u.Groups[1].Value, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Why the job stops before writing into <paramref name="table"/>'s <paramref name="column"/>.</summary>
    public static InvalidOperationException Refusal(string table, string column, string existing, string declared) => new(
        $"The column {column} of {table} has type {existing}, but the job writes {declared}; each value would be cast to {existing}, " +
        "which can change it. Drop or rename the table and the job creates it with the source's types, or give the column a type " +
        "that holds every value (the same, or a wider decimal).");

    [GeneratedRegex(@"^\s*(?:DECIMAL|NUMBER|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Decimal();

    [GeneratedRegex(@"^\s*(VARCHAR|BINARY)\s*(?:\(\s*\d+\s*\))?\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SizedText();
}
