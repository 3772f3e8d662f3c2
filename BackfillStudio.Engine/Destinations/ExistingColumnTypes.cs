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
    /// the same type; a wider integer, or a decimal with as many integer digits as the declared integer's largest value;
    /// a DOUBLE for a FLOAT (every float is a double); a decimal with at least the declared scale and integer digits (a
    /// smaller scale rounds every value silently, in DuckDB and Snowflake alike); a time or timestamp of the same kind
    /// with at least the declared fractional digits (Snowflake's TIMESTAMP_TZ without a precision is TIMESTAMP_TZ(9)); or
    /// text or binary of another maximum length, which refuses a value too long instead of cutting it (Snowflake's
    /// defaults for these lengths also changed over the years).
    /// </summary>
    public static bool Holds(string existing, string declared)
    {
        if (string.Equals(existing, declared, StringComparison.OrdinalIgnoreCase)) return true;
        if (IntegerDigits(declared) is { } digits)
        {
            if (IntegerDigits(existing) is { } existingDigits) return existingDigits >= digits;
            return Decimal().Match(existing) is { Success: true } whole && int.Parse(whole.Groups[1].Value) - int.Parse(whole.Groups[2].Value) >= digits;
        }
        if (declared.Trim().Equals("FLOAT", StringComparison.OrdinalIgnoreCase)) return existing.Trim().Equals("DOUBLE", StringComparison.OrdinalIgnoreCase);
        if (Decimal().Match(existing) is { Success: true } e && Decimal().Match(declared) is { Success: true } d)
        {
            var (precision, scale) = (int.Parse(e.Groups[1].Value), int.Parse(e.Groups[2].Value));
            var (declaredPrecision, declaredScale) = (int.Parse(d.Groups[1].Value), int.Parse(d.Groups[2].Value));
            return scale >= declaredScale && precision - scale >= declaredPrecision - declaredScale;
        }
        if (FractionalTime().Match(existing) is { Success: true } t && FractionalTime().Match(declared) is { Success: true } u)
            return SameName(t, u) && int.Parse(t.Groups[2].Value) >= int.Parse(u.Groups[2].Value);
        return SizedText().Match(existing) is { Success: true } x && SizedText().Match(declared) is { Success: true } y && SameName(x, y);
    }

    /// <summary>The digits of a DuckDB integer type's largest value (a DECIMAL with as many integer digits holds it), or null.</summary>
    private static int? IntegerDigits(string type) => type.Trim().ToUpperInvariant() switch
    {
        "SMALLINT" => 5,
        "INTEGER" => 10,
        "BIGINT" => 19,
        "HUGEINT" => 39,
        _ => null,
    };

    private static bool SameName(Match a, Match b) => string.Equals(a.Groups[1].Value, b.Groups[1].Value, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Compares the columns the job declares (in order) with those of the target made before (<paramref name="existing"/>,
    /// by name): throws, naming the column and both types, for the first whose type does not hold the declared one, and
    /// returns the names of those the target lacks, for the writer to add.
    /// </summary>
    public static List<string> Missing(string table, IEnumerable<(string Name, string Type)> declared, IReadOnlyDictionary<string, string> existing)
    {
        var missing = new List<string>();
        foreach (var (name, type) in declared)
        {
            if (!existing.TryGetValue(name, out var other)) missing.Add(name);
            else if (!Holds(other, type)) throw Refusal(table, name, other, type);
        }
        return missing;
    }

    private static InvalidOperationException Refusal(string table, string column, string existing, string declared) => new(
        $"The column {column} of {table} has type {existing}, but the job writes {declared}; each value would be cast to {existing}, " +
        "which can change it. Drop or rename the table and the job creates it with the source's types, or give the column a type " +
        "that holds every value (the same, a wider integer or decimal, a DOUBLE for a FLOAT, or a time with more fractional digits).");

    [GeneratedRegex(@"^\s*(?:DECIMAL|NUMBER|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Decimal();

    [GeneratedRegex(@"^\s*(TIMESTAMP_TZ|TIMESTAMP_NTZ|TIMESTAMP_LTZ|TIME)\s*\(\s*(\d)\s*\)\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FractionalTime();

    [GeneratedRegex(@"^\s*(VARCHAR|BINARY)\s*(?:\(\s*\d+\s*\))?\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SizedText();
}
