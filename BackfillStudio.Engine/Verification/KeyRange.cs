namespace BackfillStudio.Engine.Verification;

/// <summary>
/// A key value that ends a range: the PostgreSQL text of each key column, and, when every key column has one, its
/// <see cref="PostgresCanonical.Ordinal"/> (a number that orders as PostgreSQL orders the values in any destination).
/// </summary>
public sealed record KeyBound(IReadOnlyList<string> Text, IReadOnlyList<long>? Ordinals);

/// <summary>The rows whose key is after <see cref="After"/> and up to <see cref="UpTo"/>; a missing bound is open.</summary>
public sealed record KeyRange(KeyBound? After, KeyBound? UpTo)
{
    public static readonly KeyRange Whole = new(null, null);

    public bool IsWhole => After is null && UpTo is null;
}

/// <summary>What one side holds in a range: its row count and, in checksum mode, the sum of its rows' hashes.</summary>
public sealed record RangeMeasure(long Rows, string? Checksum);

/// <summary>
/// Builds the SQL of "key after a bound" and "key up to a bound" from per-column expressions, lexicographically
/// (<c>a &gt; x OR (a = x AND b &gt; y)</c>), for databases without row comparisons of the same meaning.
/// </summary>
public static class KeyOrder
{
    /// <param name="keys">Each key column's expression.</param>
    /// <param name="parameter">The SQL of the bound's i-th parameter.</param>
    public static string Predicate(KeyRange range, IReadOnlyList<string> keys, Func<string, int, string> parameter)
    {
        var parts = new List<string>();
        if (range.After is not null) parts.Add(Compare(keys, ">", i => parameter("lo", i)));
        if (range.UpTo is not null) parts.Add($"NOT ({Compare(keys, ">", i => parameter("hi", i))})");
        return parts.Count == 0 ? "TRUE" : string.Join(" AND ", parts.Select(p => $"({p})"));
    }

    /// <summary>Builds the text left to right, so positional placeholders are asked for in the order they appear.</summary>
    private static string Compare(IReadOnlyList<string> keys, string op, Func<int, string> bound, int i = 0) => i == keys.Count - 1
        ? $"{keys[i]} {op} {bound(i)}"
        : $"{keys[i]} {op} {bound(i)} OR ({keys[i]} = {bound(i)} AND ({Compare(keys, op, bound, i + 1)}))";
}
