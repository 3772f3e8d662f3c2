using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Filters;

namespace BackfillStudio.Engine.Verification;

/// <summary>
/// A job filter resolved by the source: its value as PostgreSQL reads it, rendered canonically (and as an ordinal
/// where the column has one), so a destination compares its own values with exactly the value PostgreSQL compared.
/// </summary>
public sealed record VerifyFilter(BackfillFilter Filter, SourceColumn Column, FilterOperator Operator, string? Canonical, long? Ordinal)
{
    public string Describe => $"{Filter.Column} {Operator.ToSymbol()}{(Operator.TakesValue() ? $" '{Filter.Value}'" : "")}";
}

/// <summary>What a verification compares in a destination: the job's table, its target name, and its filters.</summary>
public sealed record VerifyScope(int JobId, TableSchema Table, string TargetTable, IReadOnlyList<BackfillFilter> Filters, IReadOnlyList<VerifyFilter> Resolved)
{
    public bool HasKey => Table.PrimaryKey.Count > 0;
}

/// <summary>
/// The job's filters in a destination that is not PostgreSQL, over the destination's own canonical text and
/// ordinals: <c>IS [NOT] NULL</c> on any column, <c>=</c>/<c>!=</c> where the canonical text is equal exactly when
/// the values are (integers, booleans, uuids, text, enums, dates, timestamps), and <c>&lt;</c>/<c>&gt;</c>/... on
/// ordinals. Anything else is refused rather than guessed.
/// </summary>
public static class PortableFilter
{
    /// <param name="canonical">The destination's canonical text of a column, or null.</param>
    /// <param name="ordinal">The destination's ordinal of a column, or null.</param>
    /// <param name="bind">Adds a parameter with the value and returns its SQL placeholder.</param>
    /// <param name="like">The destination's <c>LIKE</c> with PostgreSQL's escape character, or null when it has none.</param>
    public static string Build(IReadOnlyList<VerifyFilter> filters, Func<SourceColumn, string, string?> canonical,
        Func<SourceColumn, string, string?> ordinal, Func<object, string> bind, Func<string, string, string>? like, Func<string, string> ident, string destination)
    {
        var clauses = new List<string>();
        foreach (var f in filters)
        {
            var q = ident(f.Column.Name);
            string? clause = f.Operator switch
            {
                FilterOperator.IsNull or FilterOperator.IsNotNull => $"{q} {f.Operator.ToSql()}",
                FilterOperator.Equal or FilterOperator.NotEqual when ExactEquality(f.Column) && canonical(f.Column, q) is { } text
                    => $"{text} {f.Operator.ToSql()} {bind(f.Canonical!)}",
                FilterOperator.GreaterThan or FilterOperator.LessThan or FilterOperator.GreaterOrEqual or FilterOperator.LessOrEqual
                    when f.Ordinal is { } value && ordinal(f.Column, q) is { } number => $"{number} {f.Operator.ToSql()} {bind(value)}",
                FilterOperator.Like when like is not null && f.Column.IsTextLike && !f.Column.NondeterministicCollation && canonical(f.Column, q) is { } text
                    => like(text, bind(f.Filter.Value!)),
                _ => null,
            };
            clauses.Add(clause ?? throw new NotSupportedException(
                $"The job's filter {f.Describe} cannot be evaluated in {destination} exactly as PostgreSQL evaluates it, so its rows there cannot be told apart; " +
                "verify a backfill without that filter (or with IS NULL, =, != on integers, text, dates or timestamps, or <, > on integers, dates or timestamps)."));
        }
        return clauses.Count == 0 ? "TRUE" : string.Join(" AND ", clauses.Select(c => $"({c})"));
    }

    /// <summary>
    /// char(n) is left out: PostgreSQL compares it without its padding, which its canonical text keeps; and so is text under
    /// a collation that finds texts equal that differ.
    /// </summary>
    private static bool ExactEquality(SourceColumn column) => column.Kind is ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64
        or ValueKind.Bool or ValueKind.Uuid or ValueKind.Text or ValueKind.Enum or ValueKind.Date or ValueKind.Timestamp or ValueKind.TimestampTz
        && !column.IsPaddedChar && !column.NondeterministicCollation;
}
