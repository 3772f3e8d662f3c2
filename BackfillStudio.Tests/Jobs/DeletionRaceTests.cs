using System.Net;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Jobs;

/// <summary>Deleting a pipeline or a source and an engine claiming one of its jobs cannot interleave.</summary>
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
}
