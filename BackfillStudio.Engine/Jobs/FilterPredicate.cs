using BackfillStudio.Engine.Catalog;
using Npgsql;

namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// The WHERE clause of a job: identifiers quoted from the catalog, operators from a fixed table,
/// values as typed parameters. Built only from filters that passed <see cref="FilterValidator"/>.
/// </summary>
public sealed class FilterPredicate
{
    private readonly IReadOnlyList<(string Name, object Value)> _parameters;

    public string Sql { get; }

    private FilterPredicate(string sql, IReadOnlyList<(string Name, object Value)> parameters)
    {
        Sql = sql;
        _parameters = parameters;
    }

    public static FilterPredicate Build(TableSchema table, IReadOnlyList<BackfillFilter> filters)
    {
        var clauses = new List<string>();
        var parameters = new List<(string Name, object Value)>();
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
            if (!FilterValueParser.TryParse(column, filter.Value ?? "", out var value, out var error))
                throw new InvalidOperationException(error);
            var name = $"f{parameters.Count}";
            parameters.Add((name, value));
            var left = column.Kind == ValueKind.Enum ? $"{ident}::text" : ident;
            clauses.Add($"{left} {op.ToSql()} @{name}");
        }
        var sql = clauses.Count == 0 ? "TRUE" : string.Join(" AND ", clauses.Select(c => $"({c})"));
        return new FilterPredicate(sql, parameters);
    }

    public void AddParameters(NpgsqlCommand command)
    {
        foreach (var (name, value) in _parameters)
            command.Parameters.AddWithValue(name, value);
    }
}
