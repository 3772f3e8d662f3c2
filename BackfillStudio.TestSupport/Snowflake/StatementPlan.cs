namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>A request that passed the SQL API's rules: its statements in DuckDB SQL and the bound values, in order.</summary>
internal sealed record StatementPlan(IReadOnlyList<string> Statements, IReadOnlyList<object> Parameters, bool IsMulti)
{
    public static StatementPlan From(StatementRequest request)
    {
        var statements = SqlText.SplitStatements(request.Statement);
        SqlApiRules.Check(request, statements);
        IReadOnlyList<object> parameters = request.IsMulti
            ? []
            : BindingConverter.ToParameters(request.Bindings, SqlText.CountPlaceholders(statements[0]));
        return new StatementPlan(statements.Select(SnowflakeDialect.ToDuckDb).ToList(), parameters, request.IsMulti);
    }
}
