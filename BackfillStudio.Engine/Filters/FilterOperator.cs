namespace BackfillStudio.Engine.Filters;

public enum FilterOperator
{
    Equal,
    NotEqual,
    GreaterThan,
    LessThan,
    GreaterOrEqual,
    LessOrEqual,
    Like,
    ILike,
    IsNull,
    IsNotNull,
}

public static class FilterOperators
{
    private static readonly Dictionary<string, FilterOperator> BySymbol = new(StringComparer.OrdinalIgnoreCase)
    {
        ["="] = FilterOperator.Equal,
        ["!="] = FilterOperator.NotEqual,
        [">"] = FilterOperator.GreaterThan,
        ["<"] = FilterOperator.LessThan,
        [">="] = FilterOperator.GreaterOrEqual,
        ["<="] = FilterOperator.LessOrEqual,
        ["LIKE"] = FilterOperator.Like,
        ["ILIKE"] = FilterOperator.ILike,
        ["IS NULL"] = FilterOperator.IsNull,
        ["IS NOT NULL"] = FilterOperator.IsNotNull,
    };

    public static IReadOnlyCollection<string> Symbols { get; } =
        ["=", "!=", ">", "<", ">=", "<=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];

    public static bool TryParse(string? symbol, out FilterOperator op)
    {
        op = default;
        return symbol is not null && BySymbol.TryGetValue(symbol.Trim(), out op);
    }

    /// <summary>The SQL spelling; safe to splice because it comes from this fixed table, never from input.</summary>
    public static string ToSql(this FilterOperator op) => op switch
    {
        FilterOperator.Equal => "=",
        FilterOperator.NotEqual => "<>",
        FilterOperator.GreaterThan => ">",
        FilterOperator.LessThan => "<",
        FilterOperator.GreaterOrEqual => ">=",
        FilterOperator.LessOrEqual => "<=",
        FilterOperator.Like => "LIKE",
        FilterOperator.ILike => "ILIKE",
        FilterOperator.IsNull => "IS NULL",
        FilterOperator.IsNotNull => "IS NOT NULL",
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    public static string ToSymbol(this FilterOperator op) => op == FilterOperator.NotEqual ? "!=" : op.ToSql();

    public static bool TakesValue(this FilterOperator op) => op is not (FilterOperator.IsNull or FilterOperator.IsNotNull);

    public static bool IsPattern(this FilterOperator op) => op is FilterOperator.Like or FilterOperator.ILike;
}
