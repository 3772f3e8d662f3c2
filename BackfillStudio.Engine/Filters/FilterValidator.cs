using System.Globalization;
using System.Text.Json;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Common;

namespace BackfillStudio.Engine.Filters;

/// <summary>A filter as a client sends it; <see cref="Value"/> may be a JSON string, number, boolean or null.</summary>
public sealed record FilterInput(string? Column, string? Operator, JsonElement? Value)
{
    public static FilterInput Of(string column, string op, string? value) =>
        new(column, op, value is null ? null : JsonSerializer.SerializeToElement(value));
}

public static class FilterValidator
{
    public const int MaxFilters = 5;

    /// <summary>Checks filters against the table's live columns and returns them normalised, or records field errors.</summary>
    public static IReadOnlyList<BackfillFilter> Validate(TableSchema table, IReadOnlyList<FilterInput>? inputs, ValidationErrors errors)
    {
        var result = new List<BackfillFilter>();
        if (inputs is null) return result;
        if (inputs.Count > MaxFilters)
        {
            errors.Add("filters", $"At most {MaxFilters} filters are allowed; got {inputs.Count}.");
            return result;
        }

        for (var i = 0; i < inputs.Count; i++)
        {
            var field = $"filters[{i}]";
            var input = inputs[i];
            if (input is null)
            {
                errors.Add(field, "A filter must be an object with column, operator and value.");
                continue;
            }
            var column = ValidateColumn(table, input.Column, $"{field}.column", errors);
            if (!FilterOperators.TryParse(input.Operator, out var op))
            {
                errors.Add($"{field}.operator", string.IsNullOrWhiteSpace(input.Operator)
                    ? "The operator is required."
                    : $"Operator '{input.Operator}' is not supported; use one of {string.Join(", ", FilterOperators.Symbols)}.");
                continue;
            }
            if (column is null) continue;

            if (!op.TakesValue())
            {
                result.Add(new BackfillFilter(column.Name, op.ToSymbol(), null));
                continue;
            }
            if (op.IsPattern() && !column.IsTextLike)
            {
                errors.Add($"{field}.operator", $"{op.ToSymbol()} applies only to text columns; '{column.Name}' is {column.DataType}.");
                continue;
            }
            if (!FilterValueParser.SupportsValueFilters(column))
            {
                errors.Add($"{field}.operator", $"Column '{column.Name}' ({column.DataType}) can only be filtered with IS NULL or IS NOT NULL.");
                continue;
            }
            if (input.Value?.ValueKind is JsonValueKind.Array or JsonValueKind.Object)
            {
                errors.Add($"{field}.value", $"The value must be a string, a number or a boolean, not a JSON {input.Value.Value.ValueKind.ToString().ToLowerInvariant()}.");
                continue;
            }
            var raw = StoredText.Read(() => ValueText(input.Value), out var unstorable);
            if ((unstorable is null ? ValueError(column, op, raw) : $"The value must not contain {unstorable}.") is { } error)
            {
                errors.Add($"{field}.value", error);
                continue;
            }
            result.Add(new BackfillFilter(column.Name, op.ToSymbol(), raw));
        }
        return result;
    }

    /// <summary>Why a filter value does not fit the column and operator, or null when it does.</summary>
    public static string? ValueError(SourceColumn column, FilterOperator op, string? raw)
    {
        if (raw is null) return $"A value is required for operator {op.ToSymbol()}.";
        if (StoredText.Unstorable(raw) is { } unstorable) return $"The value must not contain {unstorable}.";
        if (op.IsPattern())
            return (raw.Length - raw.TrimEnd('\\').Length) % 2 == 1
                ? $"A {op.ToSymbol()} pattern must not end with its escape character \\ (write \\\\ for a backslash itself)."
                : null;
        return FilterValueParser.Check(column, raw);
    }

    private static SourceColumn? ValidateColumn(TableSchema table, string? name, string field, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            errors.Add(field, "The column is required.");
            return null;
        }
        var column = table.FindColumn(name);
        if (column is null) errors.Add(field, $"Column '{Messages.Shorten(name)}' does not exist in {table.TableName}.");
        return column;
    }

    private static string? ValueText(JsonElement? value) => value?.ValueKind switch
    {
        null or JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.String => value.Value.GetString(),
        JsonValueKind.Number => value.Value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        var kind => throw new ArgumentException($"A JSON {kind} is no filter value.", nameof(value)),
    };

    /// <summary>The human-readable rendering stored in <c>filter_sql</c>; never executed.</summary>
    public static string? Render(TableSchema table, IReadOnlyList<BackfillFilter> filters)
    {
        if (filters.Count == 0) return null;
        return string.Join(';', filters.Select(f =>
        {
            var head = $"{f.Column} {f.Operator}";
            if (f.Value is null) return head;
            var unquoted = table.FindColumn(f.Column)?.Kind is ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64
                or ValueKind.Float32 or ValueKind.Float64 or ValueKind.NumericText or ValueKind.Bool;
            return $"{head} {(unquoted ? f.Value.Trim().ToString(CultureInfo.InvariantCulture) : Sql.Literal(f.Value))}";
        }));
    }
}
