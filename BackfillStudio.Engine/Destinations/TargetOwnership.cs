namespace BackfillStudio.Engine.Destinations;

/// <summary>
/// Each destination remembers, in <see cref="Table"/>, which source table filled each of its target tables,
/// so two source tables (two schemas' <c>items</c>, say) never write into one target table and overwrite
/// each other's rows: the second one's job fails before writing.
/// </summary>
public static class TargetOwnership
{
    public const string Table = "_backfill_tables";

    /// <summary>The source table a job copies, as the registry records it.</summary>
    public static string SourceOf(string host, int port, string database, string table) => $"{table} in database {database} on {host}:{port}";

    public static InvalidOperationException Conflict(string target, string owner, string source) => new(
        $"Target table {target} holds rows of {owner}, but this job copies {source}. " +
        "Set target_table_name on the pipeline's table so each source table has a target table of its own.");
}
