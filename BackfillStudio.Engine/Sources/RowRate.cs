using BackfillStudio.Engine.Common;

namespace BackfillStudio.Engine.Sources;

/// <summary>The rule of a <c>max_rows_per_second</c> field, on a job or a source.</summary>
public static class RowRate
{
    public const int Max = 100_000_000;

    public static void Validate(int? maxRowsPerSecond, ValidationErrors errors)
    {
        if (maxRowsPerSecond is { } rate && rate is < 1 or > Max)
            errors.Add("max_rows_per_second", $"max_rows_per_second must be between 1 and {Max:N0}, or left out for no limit; got {rate}.");
    }
}
