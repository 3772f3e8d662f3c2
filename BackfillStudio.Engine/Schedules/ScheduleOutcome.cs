namespace BackfillStudio.Engine.Schedules;

/// <summary>What an occurrence of a schedule did.</summary>
public static class ScheduleOutcome
{
    public const string Created = "CREATED";
    public const string Skipped = "SKIPPED";
    public const string Failed = "FAILED";
}
