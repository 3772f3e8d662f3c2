using System.Text.RegularExpressions;

namespace BackfillStudio.Engine.Catalog;

/// <summary>A table as the catalog lists it: <see cref="TableName"/> is <c>schema.name</c>, <see cref="Name"/> the name alone.</summary>
public sealed record SourceTable(string TableName, string Name, long EstimatedRows, IReadOnlyList<string> PrimaryKey);

/// <param name="Collation">A key column's collation (the order a job walks the key in) as SQL names it; null for the
/// database's default collation, for types without one, and for columns outside the key.</param>
/// <param name="NondeterministicCollation">The column's collation is not deterministic (an ICU collation made with
/// <c>deterministic = false</c>): it finds texts equal that differ, 'abc' and 'ABC' under a case-insensitive one.</param>
/// <param name="IsComposite">A row type (or a domain over one): PostgreSQL finds it NULL only when every field is NULL,
/// and NOT NULL only when none is.</param>
public sealed record SourceColumn(
    string Name,
    string DataType,
    string BaseDataType,
    bool Nullable,
    bool IsPrimaryKey,
    ValueKind Kind,
    ValueKind? ElementKind,
    int? Precision,
    int? Scale,
    bool IsBuiltinType,
    string? ElementType = null,
    string? ComparisonType = null,
    string? Collation = null,
    bool NondeterministicCollation = false,
    bool IsComposite = false)
{
    /// <summary>The type filter values are cast to: the column's (base) type without its modifier, as a literal is in psql.</summary>
    public string FilterType => ComparisonType ?? BaseDataType;

    public bool IsTextLike => Kind is ValueKind.Text or ValueKind.Enum;

    /// <summary>
    /// The source's own equality finds texts equal that differ (a nondeterministic collation, or citext, 'abc' = 'ABC'):
    /// its key keeps such texts apart no better than a destination's case-insensitive one would.
    /// </summary>
    public bool HasLooseEquality => NondeterministicCollation || BaseDataType is "citext" || BaseDataType.EndsWith(".citext", StringComparison.Ordinal);

    /// <summary>char(n): PostgreSQL compares and casts it to text without its padding, which the engine copies.</summary>
    public bool IsPaddedChar => BaseDataType is "bpchar" or "character" || BaseDataType.StartsWith("character(", StringComparison.Ordinal);

    /// <summary>
    /// The type money travels as, its numeric value (numeric[] for money[]), or null for other types: money's text depends on
    /// the session's <c>lc_monetary</c>, and '{$12.34}' read where '.' groups thousands (es_AR) is 1234.00.
    /// </summary>
    public string? MoneyCarrier => BaseDataType switch { "money" => "numeric", "money[]" => "numeric[]", _ => null };

    public bool IsMoney => MoneyCarrier is not null;

    /// <summary>
    /// The type a column is cast to before it is read as text, where its own text is not its value: money's (see
    /// <see cref="MoneyCarrier"/>), and xml[]'s, whose elements print parsed anew, a declaration of version 1.0 alone left
    /// out and a declared encoding dropped (text[] keeps each element's stored text, as xml's own cast to text does).
    /// </summary>
    public string? TextVia => MoneyCarrier ?? (BaseDataType == "xml[]" ? "text[]" : null);

    /// <summary>A numeric(p,s): each of its values has exactly s fractional digits.</summary>
    public bool HasFixedScale => Kind == ValueKind.NumericText && Precision is not null && !IsMoney;

    /// <summary>
    /// Whether a verifier compares the column's values by their text without trailing fractional zeros: a target made
    /// before may hold them in a type of a larger scale, which prints them (1.2500 for a numeric(10,2) 1.25, 5.00 for an
    /// integer 5 in a DECIMAL(12,2)).
    /// </summary>
    public bool ComparesScaleFree => HasFixedScale || Kind is ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64;

    /// <summary>A numeric's text that no DECIMAL/NUMBER holds: NaN or ±Infinity (any other numeric text ends in a digit).</summary>
    public static bool IsNumericSpecial(string text) => !char.IsAsciiDigit(text[^1]);

    /// <inheritdoc cref="IsNumericSpecial(string)"/>
    public static bool IsNumericSpecial(ReadOnlySpan<byte> utf8) => !char.IsAsciiDigit((char)utf8[^1]);

    /// <summary>A numeric(p,s) that a DECIMAL/NUMBER of at most <paramref name="maxPrecision"/> digits holds exactly.</summary>
    public bool FitsDecimal(int maxPrecision) =>
        Kind == ValueKind.NumericText && Precision is > 0 && Precision <= maxPrecision && Scale >= 0 && Scale <= Precision;
}

/// <summary>A table resolved against the live catalog; identifiers used in SQL come only from here.</summary>
public sealed record TableSchema(
    string TableName,
    string Schema,
    string Name,
    uint Oid,
    IReadOnlyList<SourceColumn> Columns,
    IReadOnlyList<SourceColumn> PrimaryKey)
{
    public string QualifiedSql => $"{Sql.Ident(Schema)}.{Sql.Ident(Name)}";

    public SourceColumn? FindColumn(string name) => Columns.FirstOrDefault(c => c.Name == name);

    /// <summary>
    /// Each column as <c>name type</c>, in order, key columns marked with their place in the key, <c>(key 2)</c>, and
    /// their collation, unless the default: what a job's checkpoints remember of the table. A resumed job reads on from
    /// its last key place by place, so a key made again in another order must not pass for the same.
    /// </summary>
    public IReadOnlyList<string> ColumnList => Columns.Select(c =>
    {
        var collation = c.Collation is { } name ? $" COLLATE {name}" : "";
        var key = c.IsPrimaryKey ? $" (key {PrimaryKey.ToList().FindIndex(k => k.Name == c.Name) + 1})" : "";
        return $"{c.Name} {c.DataType}{collation}{key}";
    }).ToList();

    /// <summary>
    /// Whether <paramref name="remembered"/>, a checkpoint's <see cref="ColumnList"/>, describes the table as it is now.
    /// Checkpoints made before key columns carried their place say <c>(key)</c>: they match a key of the same columns
    /// in any order, as they did then.
    /// </summary>
    public bool HasColumnList(IReadOnlyList<string> remembered) =>
        remembered.SequenceEqual(ColumnList) || remembered.SequenceEqual(ColumnList.Select(c => KeyPlace.Replace(c, " (key)")));

    private static readonly Regex KeyPlace = new(@" \(key \d+\)$", RegexOptions.Compiled);
}
