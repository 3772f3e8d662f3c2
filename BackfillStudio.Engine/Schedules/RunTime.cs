using System.Text.Json;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Filters;

namespace BackfillStudio.Engine.Schedules;

/// <summary>
/// The moment a schedule's occurrence runs, in its time zone: what relative filter values are resolved against.
/// <paramref name="From"/>, when earlier, is the first occurrence since the schedule's last job: lower bounds (<c>&gt;</c>,
/// <c>&gt;=</c>) are resolved against it instead, so the job covers the windows of the occurrences that created none.
/// </summary>
public sealed record RunTime(DateTimeOffset At, TimeZoneInfo Zone, DateTimeOffset? From = null)
{
    /// <summary>
    /// The filters with each relative value of a date or timestamp column replaced by the value it names; a value that
    /// starts like one but is not is a field error (<c>filters[i].value</c>). Other values are left for the usual checks.
    /// </summary>
    public IReadOnlyList<FilterInput>? Resolve(TableSchema table, IReadOnlyList<FilterInput>? filters, ValidationErrors errors)
    {
        if (filters is null) return null;
        return filters.Select((filter, i) =>
        {
            if (filter?.Value is not { ValueKind: JsonValueKind.String } value || table.FindColumn(filter.Column ?? "") is not { } column
                || !RelativeTime.Applies(column.Kind) || !RelativeTime.LooksRelative(value.GetString()!))
                return filter!;
            if (!RelativeTime.TryParse(value.GetString()!, out var relative))
            {
                errors.Add($"filters[{i}].value", $"'{Messages.Shorten(value.GetString()!)}' is not a relative time: {RelativeTime.Help}.");
                return filter;
            }
            try
            {
                var at = From is { } from && IsLowerBound(filter.Operator) ? from : At;
                return FilterInput.Of(filter.Column!, filter.Operator ?? "", relative!.Format(at, Zone, column.Kind));
            }
            catch (ArgumentOutOfRangeException)
            {
                errors.Add($"filters[{i}].value", $"'{Messages.Shorten(value.GetString()!)}' lies outside the years 1 to 9999 at this run.");
                return filter;
            }
        }).ToList();
    }

    /// <summary>Whether a schedule's filters (<see cref="Templates"/>) have a lower bound with a relative value, which <see cref="From"/> moves back.</summary>
    public static bool HasRelativeLowerBound(IReadOnlyList<BackfillFilter> templates) =>
        templates.Any(f => IsLowerBound(f.Operator) && f.Value is { } value && RelativeTime.LooksRelative(value) && RelativeTime.TryParse(value, out _));

    private static bool IsLowerBound(string? op) => FilterOperators.TryParse(op ?? "", out var parsed)
        && parsed is FilterOperator.GreaterThan or FilterOperator.GreaterOrEqual;

    /// <summary>What a schedule keeps of its validated filters: each relative value as given (to resolve at every occurrence), the rest as validated.</summary>
    public static IReadOnlyList<BackfillFilter> Templates(IReadOnlyList<BackfillFilter> validated, IReadOnlyList<FilterInput>? given) =>
        validated.Select((filter, i) => given?[i].Value is { ValueKind: JsonValueKind.String } value
            && RelativeTime.LooksRelative(value.GetString()!) && RelativeTime.TryParse(value.GetString()!, out _) && filter.Value != value.GetString()
                ? filter with { Value = value.GetString()!.Trim().ToLowerInvariant() }
                : filter).ToList();
}
