using System.Text.RegularExpressions;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>What the SQL API refuses before running anything, with Snowflake's codes.</summary>
internal static partial class SqlApiRules
{
    public static void Check(StatementRequest request, IReadOnlyList<string> statements)
    {
        if (statements.Count == 0) throw SnowflakeApiException.Sql("000900", "42000", "SQL compilation error: Empty SQL statement.");
        foreach (var statement in statements)
        {
            var transfer = FileTransfer().Match(SqlText.WithoutComments(statement));
            if (transfer.Success) throw Unsupported($"Unsupported feature '{transfer.Groups[1].Value.ToUpperInvariant()}'.");
        }
        if (request.IsMulti && request.Bindings is not null)
            throw Unsupported("Bind variables are not supported in multi-statement requests.");
        if (request.StatementCount != 0 && statements.Count != request.StatementCount)
            throw SnowflakeApiException.Sql("000008", "0A000",
                $"Actual statement count {statements.Count} did not match the desired statement count {request.StatementCount}.");
        if (request.IsMulti) return;
        var command = MultiStatementOnly().Match(SqlText.WithoutComments(statements[0]));
        if (command.Success)
            throw Unsupported($"{Whitespace().Replace(command.Groups[1].Value, " ").ToUpperInvariant()} is only supported in a multi-statement request.");
    }

    private static SnowflakeApiException Unsupported(string message) => SnowflakeApiException.Sql("000002", "0A000", message);

    [GeneratedRegex(@"^\s*(PUT|GET)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FileTransfer();

    [GeneratedRegex(
        @"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|USE|ALTER\s+SESSION|CREATE\s+(?:OR\s+REPLACE\s+)?(?:LOCAL\s+|GLOBAL\s+)?(?:TEMPORARY|TEMP)\s+TABLE)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex MultiStatementOnly();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
