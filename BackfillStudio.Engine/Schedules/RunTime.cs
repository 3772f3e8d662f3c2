using System.Text.Json;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Filters;

namespace BackfillStudio.Engine.Schedules;

/// <summary>The moment a schedule's occurrence runs, in its time zone: what relative filter values are resolved against.</summary>
public sealed record RunTime(DateTimeOffset At, TimeZoneInfo Zone)
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
                return FilterInput.Of(filter.Column!, filter.Operator ?? "", relative!.Format(At, Zone, column.Kind));
            }
            catch (ArgumentOutOfRangeException)
            {
                errors.Add($"filters[{i}].value", $"'{Messages.Shorten(value.GetString()!)}' lies outside the years 1 to 9999 at this run.");
                return filter;
            }
        }).ToList();
    }

    /// <summary>What a schedule keeps of its validated filters: each relative value as given (to resolve at every occurrence), the rest as validated.</summary>
    public static IReadOnlyList<BackfillFilter> Templates(IReadOnlyList<BackfillFilter> validated, IReadOnlyList<FilterInput>? given) =>
        validated.Select((filter, i) => given?[i].Value is { ValueKind: JsonValueKind.String } value
            && RelativeTime.LooksRelative(value.GetString()!) && RelativeTime.TryParse(value.GetString()!, out _) && filter.Value != value.GetString()
                ? filter with { Value = value.GetString()!.Trim().ToLowerInvariant() }
                : filter).ToList();
}
