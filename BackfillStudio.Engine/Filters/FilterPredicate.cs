using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Sources.Postgres;
using Npgsql;

namespace BackfillStudio.Engine.Filters;

/// <summary>
/// The WHERE clause of a job: identifiers quoted from the catalog, operators from a fixed table,
/// values as text parameters that the server casts to the column's own type, so a filter selects what
/// <c>col op 'literal'</c> selects in psql (real = 0.1, enum order, every digit of a numeric).
/// Built only from filters that passed <see cref="FilterValidator"/>.
/// <see cref="SessionSql"/> is the same clause for a statement that takes no parameters (COPY): it reads the values
/// from the session's settings (<see cref="SessionValues"/>).
/// </summary>
public sealed class FilterPredicate
{
    private FilterPredicate(string sql, string sessionSql, IReadOnlyList<(string Name, string Value)> parameters)
    {
        Sql = sql;
        SessionSql = sessionSql;
        Parameters = parameters;
    }

    public string Sql { get; }

    public string SessionSql { get; }

    /// <summary>The filter values by parameter name, as the user gave them (text).</summary>
    public IReadOnlyList<(string Name, string Value)> Parameters { get; }

    public static FilterPredicate Build(TableSchema table, IReadOnlyList<BackfillFilter> filters)
    {
        var (sql, parameters) = Render(table, filters, name => $"@{name}");
        return new FilterPredicate(sql, Render(table, filters, SessionValues.Read).Sql, parameters);
    }

    /// <param name="value">The SQL that reads a parameter's value, by its name.</param>
    private static (string Sql, List<(string Name, string Value)> Parameters) Render(TableSchema table, IReadOnlyList<BackfillFilter> filters,
        Func<string, string> value)
    {
        var clauses = new List<string>();
        var parameters = new List<(string Name, string Value)>();
        foreach (var filter in filters)
        {
            var column = table.FindColumn(filter.Column)
                ?? throw new InvalidOperationException($"Column '{filter.Column}' no longer exists in {table.TableName}.");
            if (!FilterOperators.TryParse(filter.Operator, out var op))
                throw new InvalidOperationException($"Unknown operator '{filter.Operator}'.");
            var ident = Catalog.Sql.Ident(column.Name);
            if (!op.TakesValue())
            {
                clauses.Add($"{ident} {op.ToSql()}");
                continue;
            }
            var name = $"f{parameters.Count}";
            parameters.Add((name, filter.Value ?? ""));
            clauses.Add(op.IsPattern()
                ? $"{(column.Kind == ValueKind.Enum ? $"{ident}::text" : ident)} {op.ToSql()} {value(name)}"
                : $"{ident} {op.ToSql()} CAST({value(name)} AS {column.FilterType})");
        }
        var sql = clauses.Count == 0 ? "TRUE" : string.Join(" AND ", clauses.Select(c => $"({c})"));
        return (sql, parameters);
    }

    /// <summary>
    /// Another predicate made of this one and one more text value: <paramref name="clause"/> is given this predicate's SQL
    /// and the SQL that reads <paramref name="value"/>, in either form.
    /// </summary>
    public FilterPredicate Extend(Func<string, string, string> clause, string value)
    {
        var name = $"f{Parameters.Count}";
        return new FilterPredicate(clause(Sql, $"@{name}"), clause(SessionSql, SessionValues.Read(name)), [.. Parameters, (name, value)]);
    }

    /// <summary>The parameter as a value of the column's type; the type name comes from the catalog's format_type.</summary>
    public static string CastValue(SourceColumn column, string parameter) => $"CAST(@{parameter} AS {column.FilterType})";

    public void AddParameters(NpgsqlCommand command)
    {
        foreach (var (name, value) in Parameters)
            command.Parameters.Add(new NpgsqlParameter(name, NpgsqlTypes.NpgsqlDbType.Text) { Value = value });
    }
}
