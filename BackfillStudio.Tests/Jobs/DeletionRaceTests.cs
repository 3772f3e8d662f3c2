using System.Net;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Jobs;

/// <summary>
/// Deleting a pipeline or a source and an engine claiming one of its jobs cannot interleave, and the deleted pipeline's
/// jobs stay in the audit trail.
/// </summary>
public sealed class DeletionRaceTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 10);";

    [Theory]
    [InlineData("pipelines")]
    [InlineData("sources")]
    public async Task ADeletion_WhileAClaimIsInFlight_WaitsForIt_AndRefusesOnceTheJobIsExecuting(string resource)
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var jobId = await s.StartBackfillAsync("public.items");

        // An engine's claim, caught between its UPDATE and its COMMIT.
        await using var engine = new NpgsqlConnection(s.ConfigDb);
        await engine.OpenAsync();
        await using var claim = await engine.BeginTransactionAsync();
        await using (var cmd = new NpgsqlCommand("UPDATE queue_backfill_data SET status = 'EXECUTING', lease_owner = 'test' WHERE id = @id", engine, claim))
        {
            cmd.Parameters.AddWithValue("id", jobId);
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        var id = resource == "pipelines" ? s.PipelineId : s.SourceId;
        var deletion = s.Http.DeleteAsync($"/api/v1/{resource}/{id}");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(deletion.IsCompleted, "the deletion did not wait for the claim in flight");
        await claim.CommitAsync();

        using var response = await deletion;
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("EXECUTING", (string)(await s.Http.GetJobAsync(jobId))["status"]!);
    }

    /// <summary>
    /// A backfill request checks its table and filters on the source after it found the pipeline (here the source answers
    /// only once the deletion is done); a deletion of the pipeline meanwhile marked the jobs there were, and the request then
    /// added one: a job of no pipeline, neither deleted nor runnable (it failed "Pipeline 1 no longer exists"). Now the
    /// request finds the pipeline gone when it adds the job.
    /// </summary>
    [Theory]
    [InlineData("pipelines")]
    [InlineData("sources")]
    public async Task ABackfillRequested_WhileItsPipelineIsDeleted_IsRefused_AndLeavesNoLiveJob(string resource)
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var source = new NpgsqlConnectionStringBuilder(s.SourceDb);
        await using var proxy = new TcpProxy(source.Host!, source.Port);
        await PostgresServer.ExecuteAsync(s.ConfigDb, $"UPDATE sources SET host = '127.0.0.1', port = {proxy.Port}");

        proxy.Blackhole();
        var request = s.Http.PostJsonAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.items" });
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(request.IsCompleted, "the request did not wait for the source");
        using (var deleted = await s.Http.DeleteAsync($"/api/v1/{resource}/{(resource == "pipelines" ? s.PipelineId : s.SourceId)}"))
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        proxy.Heal();

        var (status, body) = await request;
        Assert.True(status == HttpStatusCode.NotFound, $"{(int)status} {body.ToJsonString()}");
        Assert.Equal(0, (int)(await s.Http.GetOkAsync("/api/v1/backfill"))["total"]!);
    }

    [Theory]
    [InlineData("pipelines")]
    [InlineData("sources")]
    public async Task DeletingAPipelineOrSource_KeepsItsJobsInTheAuditTrail_MarkedDeleted(string resource)
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var deletedBefore = await s.StartBackfillAsync("public.items");
        var queued = await s.StartBackfillAsync("public.items");
        await PostgresServer.ExecuteAsync(s.ConfigDb,
            $"UPDATE queue_backfill_data SET deleted_at = '2026-01-02T03:04:05Z', deleted_by = 'earlier' WHERE id = {deletedBefore}");

        var id = resource == "pipelines" ? s.PipelineId : s.SourceId;
        using (var response = await s.Http.DeleteAsync($"/api/v1/{resource}/{id}"))
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        Assert.Equal(0, (int)(await s.Http.GetOkAsync("/api/v1/backfill"))["total"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await s.Http.GetJsonAsync($"/api/v1/backfill/{queued}")).Status);
        var kept = (await s.Http.GetOkAsync($"/api/v1/backfill?pipeline_id={s.PipelineId}&include_deleted=true"))["items"]!.AsArray()
            .ToDictionary(j => (int)j!["id"]!, j => j!.AsObject());
        Assert.Equal([deletedBefore, queued], kept.Keys.Order());
        Assert.Equal("earlier", (string)kept[deletedBefore]["deleted_by"]!);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), (DateTimeOffset)kept[deletedBefore]["deleted_at"]!);
        Assert.Equal("bootstrap API key", (string)kept[queued]["deleted_by"]!);
        Assert.Equal("PENDING", (string)kept[queued]["status"]!);

        // Deleted jobs are never claimed: an engine started now finds nothing to run.
        await using var engine = await s.StartPeerAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal("PENDING", await PostgresServer.ScalarAsync<string>(s.ConfigDb, $"SELECT status FROM queue_backfill_data WHERE id = {queued}"));
    }
}
