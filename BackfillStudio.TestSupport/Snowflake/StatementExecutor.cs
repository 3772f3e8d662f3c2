using System.Text.RegularExpressions;
using DuckDB.NET.Data;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// Runs statements on the emulator's single DuckDB connection, one request at a time. DuckDB errors become the
/// 422s Snowflake gives for SQL errors.
/// </summary>
internal sealed partial class StatementExecutor : IDisposable
{
    private static readonly HashSet<string> DmlVerbs = new(StringComparer.Ordinal) { "INSERT", "UPDATE", "DELETE", "MERGE" };

    private static readonly HashSet<string> QueryVerbs = new(StringComparer.Ordinal)
    {
        "SELECT", "WITH", "VALUES", "FROM", "TABLE", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "SUMMARIZE", "CALL",
    };

    private readonly DuckDBConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private StatementExecutor(DuckDBConnection connection) => _connection = connection;

    public static StatementExecutor Open(string databasePath)
    {
        var connection = new DuckDBConnection($"Data Source={databasePath}");
        try
        {
            connection.Open();
            var executor = new StatementExecutor(connection);
            // Cells and bound values are UTC instants; a UTC session keeps TIMESTAMP <-> TIMESTAMPTZ casts from shifting them.
            executor.Execute("SET TimeZone = 'UTC'");
            foreach (var macro in SnowflakeDialect.Macros) executor.Execute(macro);
            return executor;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public void CreateSchema(string schema)
    {
        _gate.Wait();
        try
        {
            Execute($"CREATE SCHEMA IF NOT EXISTS {QuoteIdentifier(schema)}");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <param name="schema">The request's schema: unqualified names resolve in it, as in the Snowflake session.</param>
    public async Task<IReadOnlyList<StatementResult>> RunAsync(StatementPlan plan, string schema)
    {
        await _gate.WaitAsync();
        try
        {
            Run($"SET schema = {QuoteLiteral(QuoteIdentifier(schema))}", []);
            if (plan.IsMulti) return RunInOrder(plan.Statements);
            return [Run(plan.Statements[0], plan.Parameters)];
        }
        finally
        {
            _gate.Release();
        }
    }

    private List<StatementResult> RunInOrder(IReadOnlyList<string> statements)
    {
        var results = new List<StatementResult>();
        try
        {
            foreach (var statement in statements) results.Add(Run(statement, []));
            return results;
        }
        finally
        {
            EndSession();
        }
    }

    /// <summary>
    /// Each SQL API request is a Snowflake session of its own, so what a multi-statement request leaves behind ends
    /// with it: an open transaction (a statement failed, or COMMIT never came) is rolled back and temporary tables
    /// are dropped. The shared connection then starts the next request clean.
    /// </summary>
    private void EndSession()
    {
        try
        {
            Execute("ROLLBACK");
        }
        catch (DuckDBException)
        {
            // No transaction was open.
        }
        var temporaryTables = new List<string>();
        using (var command = _connection.CreateCommand())
        {
            command.CommandText = "SELECT table_name FROM duckdb_tables() WHERE temporary";
            using var reader = command.ExecuteReader();
            while (reader.Read()) temporaryTables.Add(reader.GetString(0));
        }
        foreach (var table in temporaryTables) Execute($"DROP TABLE IF EXISTS temp.main.{QuoteIdentifier(table)}");
    }

    private StatementResult Run(string sql, IReadOnlyList<object> parameters)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var value in parameters) command.Parameters.Add(new DuckDBParameter(value));
        try
        {
            var verb = LeadingWord().Match(SqlText.WithoutComments(sql)).Groups[1].Value.ToUpperInvariant();
            if (DmlVerbs.Contains(verb)) return StatementResult.Dml(verb, command.ExecuteNonQuery());
            // Only statements that produce a result set may go through ExecuteReader: DuckDB.NET's reader
            // expects one, and DDL or transaction control has none.
            if (!QueryVerbs.Contains(verb))
            {
                command.ExecuteNonQuery();
                return StatementResult.Status(SnowflakeResponses.SuccessMessage);
            }
            using var reader = command.ExecuteReader();
            return ResultSetReader.Read(reader);
        }
        catch (DuckDBException e)
        {
            throw CompilationError(e.Message);
        }
        catch (InvalidOperationException e)
        {
            // DuckDB.NET reports parameter binding failures this way.
            throw CompilationError(e.Message);
        }
    }

    private static SnowflakeApiException CompilationError(string message)
    {
        var missingTable = message.Contains("Table with name", StringComparison.Ordinal)
            && message.Contains("does not exist", StringComparison.Ordinal);
        return SnowflakeApiException.Sql("002003", missingTable ? "42S02" : "42000", "SQL compilation error: " + message);
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string QuoteLiteral(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    [GeneratedRegex(@"^[\s(]*([A-Za-z]+)")]
    private static partial Regex LeadingWord();

    public void Dispose()
    {
        _connection.Dispose();
        _gate.Dispose();
    }
}
