using BackfillStudio.Engine.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

using System.Security.Claims;
using BackfillStudio.Web.Access;

namespace BackfillStudio.Web.Api;

/// <summary>The five backfill endpoints of the seed contract, plus a cross-pipeline job list, resume, verify and repair.</summary>
public static class BackfillApi
{
    public static RouteGroupBuilder MapBackfillApi(this RouteGroupBuilder api)
    {
        api.MapPost("/pipelines/{pipelineId:int}/backfill", async Task<Created<JobView>> (int pipelineId, CreateBackfillInput input, JobService jobs, ClaimsPrincipal user, CancellationToken ct) =>
        {
            var job = await jobs.CreateAsync(pipelineId, input, user.Identity?.Name, ct);
            return TypedResults.Created($"/api/v1/backfill/{job.Id}", job);
        }).WithTags("Backfill").RequireAuthorization(AccessRoles.OperatePolicy).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPost("/pipelines/{pipelineId:int}/backfill/preview", async (int pipelineId, CreateBackfillInput input, JobService jobs, CancellationToken ct) =>
            TypedResults.Ok(await jobs.PreviewAsync(pipelineId, input, ct))).WithTags("Backfill").RequireAuthorization(AccessRoles.OperatePolicy)
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/pipelines/{pipelineId:int}/backfill", async (int pipelineId, JobService jobs, CancellationToken ct, int skip = 0, int limit = 100,
                [FromQuery(Name = "include_deleted")] bool includeDeleted = false) =>
            TypedResults.Ok(await jobs.ListAsync(pipelineId, null, skip, limit, ct, includeDeleted))).WithTags("Backfill")
            .ProducesProblem(StatusCodes.Status404NotFound);

        var group = api.MapGroup("/backfill").WithTags("Backfill")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/", async (JobService jobs, CancellationToken ct, [FromQuery(Name = "pipeline_id")] int? pipelineId, string? status, int skip = 0,
                int limit = 100, [FromQuery(Name = "include_deleted")] bool includeDeleted = false) =>
            TypedResults.Ok(await jobs.ListAsync(pipelineId, status, skip, limit, ct, includeDeleted)));
        group.MapGet("/{jobId:int}", async (int jobId, JobService jobs, CancellationToken ct) => TypedResults.Ok(await jobs.GetAsync(jobId, ct)));
        group.MapPost("/{jobId:int}/cancel", async (int jobId, JobService jobs, ClaimsPrincipal user, CancellationToken ct) =>
            TypedResults.Ok(await jobs.CancelAsync(jobId, user.Identity?.Name, ct))).RequireAuthorization(AccessRoles.OperatePolicy);
        group.MapPost("/{jobId:int}/resume", async (int jobId, JobService jobs, ClaimsPrincipal user, CancellationToken ct) =>
            TypedResults.Ok(await jobs.ResumeAsync(jobId, user.Identity?.Name, ct))).RequireAuthorization(AccessRoles.OperatePolicy);
        group.MapPost("/{jobId:int}/verify", async (int jobId, [FromBody] VerifyInput? input, JobService jobs, CancellationToken ct) =>
            TypedResults.Accepted($"/api/v1/backfill/{jobId}", await jobs.VerifyAsync(jobId, input, ct))).RequireAuthorization(AccessRoles.OperatePolicy);
        group.MapPost("/{jobId:int}/repair", async (int jobId, JobService jobs, CancellationToken ct) =>
            TypedResults.Accepted($"/api/v1/backfill/{jobId}", await jobs.RepairAsync(jobId, ct))).RequireAuthorization(AccessRoles.OperatePolicy);
        group.MapDelete("/{jobId:int}", async (int jobId, JobService jobs, ClaimsPrincipal user, CancellationToken ct) =>
        {
            await jobs.DeleteAsync(jobId, user.Identity?.Name, ct);
            return TypedResults.NoContent();
        }).RequireAuthorization(AccessRoles.OperatePolicy);
        return api;
    }
}
