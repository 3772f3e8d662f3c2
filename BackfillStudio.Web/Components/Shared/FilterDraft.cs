using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Schedules;

namespace BackfillStudio.Web.Components.Shared;

/// <summary>One filter row being edited in the UI.</summary>
public sealed class FilterDraft
{
    public string? Column { get; set; }
    public string Operator { get; set; } = "=";
    public string? Value { get; set; }

    public FilterInput ToInput() => FilterInput.Of(Column ?? "", Operator, FilterOperators.TryParse(Operator, out var op) && op.TakesValue() ? Value : null);

    /// <summary>The operators that fit a column's type, as the API accepts them.</summary>
    public static IReadOnlyList<string> OperatorsFor(SourceColumn? column)
    {
        if (column is null) return FilterOperators.Symbols.ToList();
        if (column.IsTextLike) return FilterOperators.Symbols.ToList();
        if (!FilterValueParser.SupportsValueFilters(column)) return ["IS NULL", "IS NOT NULL"];
        if (column.Kind is ValueKind.Bool or ValueKind.Uuid) return ["=", "!=", "IS NULL", "IS NOT NULL"];
        return ["=", "!=", ">", "<", ">=", "<=", "IS NULL", "IS NOT NULL"];
    }

    /// <summary>Checks the row the way the server will, so mistakes show on the field before submitting.</summary>
    /// <param name="relative">Whether date and timestamp values may be relative to a schedule's run (<see cref="RelativeTime"/>).</param>
    public string? ValueError(SourceColumn? column, bool relative = false)
    {
        if (column is null || !FilterOperators.TryParse(Operator, out var op) || !op.TakesValue()) return null;
        // An emptied text field is "no value yet" in the UI, shown shorter than the API's message.
        if (string.IsNullOrEmpty(Value)) return "A value is required.";
        if (relative && RelativeTime.Applies(column.Kind) && RelativeTime.LooksRelative(Value))
            return RelativeTime.TryParse(Value, out _) ? null : $"Not a relative time: {RelativeTime.Help}.";
        return FilterValidator.ValueError(column, op, Value);
    }
}
