using BackfillStudio.Engine.Catalog;

namespace BackfillStudio.Engine.Verification;

/// <summary>
/// The canonical text of a PostgreSQL value that verification hashes, used on the source and in PostgreSQL
/// destinations alike; each other destination renders the same text from its own types (its <c>*Verifier</c>).
/// Integers, dates and timestamps are their number (days or microseconds since 2000-01-01, infinities as text),
/// so no date style or time zone enters; a numeric(p,s) is its text without trailing fractional zeros (see
/// <see cref="ScaleFree"/>); everything else is the text the engine copied.
/// <para>A row's hash is md5 over its columns' texts, each length-prefixed (so no separator can be forged),
/// cut to 60 bits; a range's checksum is the sum of its rows' hashes, independent of row order.</para>
/// </summary>
public static class PostgresCanonical
{
    public const long MicrosecondsPerDay = 86_400_000_000;

    /// <summary>The ordinals of <c>infinity</c> and <c>-infinity</c> (minus the largest bigint, which every SQL dialect parses as one).</summary>
    public const long Infinity = long.MaxValue;
    public const long MinusInfinity = -long.MaxValue;

    /// <summary>
    /// A bigint that orders as the value does, for the kinds any destination can order the same way: integers,
    /// dates (days since 2000-01-01) and timestamps (microseconds since 2000-01-01 UTC); infinities are the
    /// <see cref="Infinity"/> and <see cref="MinusInfinity"/>. Null for other kinds.
    /// </summary>
    public static string? Ordinal(SourceColumn column, string q) => column.Kind switch
    {
        ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64 => $"({q})::bigint",
        ValueKind.Date => Finite(q, $"({q} - DATE '2000-01-01')::bigint"),
        ValueKind.Timestamp => Finite(q, Micros(q)),
        ValueKind.TimestampTz => Finite(q, Micros($"({q} AT TIME ZONE 'UTC')")),
        _ => null,
    };

    public static string Canonical(SourceColumn column, string q) => column switch
    {
        { Kind: ValueKind.Date or ValueKind.Timestamp or ValueKind.TimestampTz } => $"CASE WHEN isfinite({q}) THEN ({Ordinal(column, q)})::text ELSE ({q})::text END",
        { Kind: ValueKind.Time } => $"(extract(epoch from {q}) * 1000000)::bigint::text",
        // The engine copies char(n) with its padding, which a cast to text would strip; concat keeps it (and makes NULL '').
        { IsPaddedChar: true } => $"CASE WHEN {q} IS NOT NULL THEN concat({q}) END",
        { Kind: ValueKind.Bytea } => $"encode({q}, 'hex')",
        { TextVia: { } via } => $"({q})::{via}::text",
        { ComparesScaleFree: true } => ScaleFree($"({q})::text"),
        _ => $"({q})::text",
    };

    /// <summary>
    /// A number's <paramref name="text"/> without trailing fractional zeros, in SQL that PostgreSQL, DuckDB and Snowflake
    /// read alike. A numeric(p,s) prints s fractional digits, always; a target made before with a larger scale prints
    /// more (1.2500 for 1.25) of the same value. Without them the texts are equal exactly when the values are.
    /// </summary>
    public static string ScaleFree(string text) =>
        $"CASE WHEN position('.' IN {text}) > 0 THEN rtrim(rtrim({text}, '0'), '.') ELSE {text} END";

    public static string RowChecksum(IEnumerable<string> canonical)
    {
        var row = string.Join(" || ',' || ", canonical.Select(e => $"COALESCE(length({e}) || ':' || {e}, '~')"));
        return $"COALESCE(sum(('x' || substr(md5({(row.Length == 0 ? "''" : row)}), 1, 15))::bit(60)::bigint), 0)::text";
    }

    /// <summary>Microseconds since 2000-01-01 of a finite timestamp, exact on every PostgreSQL version (no float epoch).</summary>
    private static string Micros(string ts) =>
        $"(({ts})::date - DATE '2000-01-01')::bigint * {MicrosecondsPerDay} + (extract(epoch from ({ts})::time) * 1000000)::bigint";

    private static string Finite(string q, string ordinal) =>
        $"CASE WHEN {q} IS NULL THEN NULL WHEN isfinite({q}) THEN {ordinal} WHEN {q} > '-infinity' THEN {Infinity} ELSE {MinusInfinity} END";
}
