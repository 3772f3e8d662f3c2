using System.Text.Json.Serialization;

namespace BackfillStudio.Engine.Filters;

/// <summary>One validated column filter, stored in <c>queue_backfill_data.filters</c> and executed as parameterized SQL.</summary>
public sealed record BackfillFilter(
    [property: JsonPropertyName("column")] string Column,
    [property: JsonPropertyName("operator")] string Operator,
    [property: JsonPropertyName("value")] string? Value);
