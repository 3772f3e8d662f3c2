using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Persistence;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// Which engines run: each engine renews its row in <c>engines</c> with its leases; one seen within a lease's time runs.
/// And which jobs an engine may take: those whose pipeline has no local-file destination belonging to another engine.
/// </summary>
public sealed class EngineRegistry(ConfigDataSource config, EngineIdentity identity, IOptions<BackfillOptions> options)
{
    /// <summary>
    /// The condition, in a query over <c>queue_backfill_data</c> with an <c>@engine</c> parameter, that a job's
    /// destinations can all be written by that engine.
    /// </summary>
    internal const string ReachableByEngine = """
        NOT EXISTS (SELECT 1 FROM pipeline_destinations pd JOIN destinations d ON d.id = pd.destination_id
                    WHERE pd.pipeline_id = queue_backfill_data.pipeline_id AND d.engine_name <> @engine)
        """;

    /// <summary>An engine row (<c>e</c>) renewed within a lease's time (<c>@lease</c> seconds): that engine runs.</summary>
    private const string Running = "e.last_seen_at > now() - make_interval(secs => @lease)";

    public async Task ReportAliveAsync(CancellationToken ct)
    {
        await using var cmd = config.DataSource.CreateCommand("""
            INSERT INTO engines (name, last_seen_at) VALUES (@name, now())
            ON CONFLICT (name) DO UPDATE SET last_seen_at = now()
            """);
        cmd.Parameters.AddWithValue("name", identity.Name);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// For each of <paramref name="pipelineIds"/> that writes to a local-file destination whose engine is not running,
    /// that engine's name: its jobs wait in PENDING until the engine runs.
    /// </summary>
    public async Task<IReadOnlyDictionary<int, string>> AbsentEnginesAsync(IReadOnlyCollection<int> pipelineIds, CancellationToken ct)
    {
        if (pipelineIds.Count == 0) return new Dictionary<int, string>();
        await using var cmd = config.DataSource.CreateCommand($"""
            SELECT pd.pipeline_id, min(d.engine_name) FROM pipeline_destinations pd JOIN destinations d ON d.id = pd.destination_id
            WHERE pd.pipeline_id = ANY(@ids) AND d.engine_name IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM engines e WHERE e.name = d.engine_name AND {Running})
            GROUP BY pd.pipeline_id
            """);
        cmd.Parameters.AddWithValue("ids", pipelineIds.ToArray());
        cmd.Parameters.AddWithValue("lease", LeaseSeconds);
        var absent = new Dictionary<int, string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) absent[reader.GetInt32(0)] = reader.GetString(1);
        return absent;
    }

    /// <summary>The names of the engines that renewed their row within a lease's time.</summary>
    public async Task<IReadOnlySet<string>> RunningAsync(CancellationToken ct)
    {
        await using var cmd = config.DataSource.CreateCommand($"SELECT e.name FROM engines e WHERE {Running}");
        cmd.Parameters.AddWithValue("lease", LeaseSeconds);
        var names = new HashSet<string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) names.Add(reader.GetString(0));
        return names;
    }

    private double LeaseSeconds => options.Value.LeaseSeconds;
}
