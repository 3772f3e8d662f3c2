using BackfillStudio.Engine.Catalog;
using Npgsql;

namespace BackfillStudio.Engine.Filters;

/// <summary>
/// The WHERE clause of a job: identifiers quoted from the catalog, operators from a fixed table,
/// values as text parameters that the server casts to the column's own type, so a filter selects what
/// <c>col op 'literal'</c> selects in psql (real = 0.1, enum order, every digit of a numeric).
/// Built only from filters that passed <see cref="FilterValidator"/>.
/// </summary>
public sealed class FilterPredicate
{
    private readonly IReadOnlyList<(string Name, string Value)> _parameters;

    public string Sql { get; }

    private FilterPredicate(string sql, IReadOnlyList<(string Name, string Value)> parameters)
    {
        Sql = sql;
        _parameters = parameters;
    }

    public static FilterPredicate Build(TableSchema table, IReadOnlyList<BackfillFilter> filters)
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
                ? $"{(column.Kind == ValueKind.Enum ? $"{ident}::text" : ident)} {op.ToSql()} @{name}"
                : $"{ident} {op.ToSql()} {CastValue(column, name)}");
        }
        var sql = clauses.Count == 0 ? "TRUE" : string.Join(" AND ", clauses.Select(c => $"({c})"));
        return new FilterPredicate(sql, parameters);
    }

    /// <summary>The parameter as a value of the column's type; the type name comes from the catalog's format_type.</summary>
    public static string CastValue(SourceColumn column, string parameter) => $"CAST(@{parameter} AS {column.FilterType})";

    public void AddParameters(NpgsqlCommand command)
    {
        foreach (var (name, value) in _parameters)
            command.Parameters.Add(new NpgsqlParameter(name, NpgsqlTypes.NpgsqlDbType.Text) { Value = value });
    }
}
