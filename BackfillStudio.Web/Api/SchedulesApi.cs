using System.Security.Claims;
using BackfillStudio.Engine.Schedules;
using BackfillStudio.Web.Access;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BackfillStudio.Web.Api;

/// <summary>A pipeline's scheduled backfills: anyone signed in reads them, Operators and Admins change them.</summary>
public static class SchedulesApi
{
    public static RouteGroupBuilder MapSchedulesApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/pipelines/{pipelineId:int}/schedules").WithTags("Schedules").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/", async (int pipelineId, ScheduleService schedules, CancellationToken ct) => TypedResults.Ok(await schedules.ListAsync(pipelineId, ct)));
        group.MapPost("/", async Task<Created<ScheduleView>> (int pipelineId, ScheduleInput input, ScheduleService schedules, ClaimsPrincipal user,
            CancellationToken ct) =>
        {
            var created = await schedules.CreateAsync(pipelineId, input, user.Identity?.Name, ct);
            return TypedResults.Created($"/api/v1/pipelines/{pipelineId}/schedules/{created.Id}", created);
        }).RequireAuthorization(AccessRoles.OperatePolicy);
        group.MapGet("/{scheduleId:int}", async (int pipelineId, int scheduleId, ScheduleService schedules, CancellationToken ct) =>
            TypedResults.Ok(await schedules.GetAsync(pipelineId, scheduleId, ct)));
        group.MapPut("/{scheduleId:int}", async (int pipelineId, int scheduleId, ScheduleInput input, ScheduleService schedules, CancellationToken ct) =>
            TypedResults.Ok(await schedules.UpdateAsync(pipelineId, scheduleId, input, ct))).RequireAuthorization(AccessRoles.OperatePolicy);
        group.MapGet("/{scheduleId:int}/runs", async (int pipelineId, int scheduleId, ScheduleService schedules, CancellationToken ct, int limit = 100) =>
            TypedResults.Ok(await schedules.RunsAsync(pipelineId, scheduleId, limit, ct)));
        group.MapPost("/{scheduleId:int}/pause", async (int pipelineId, int scheduleId, ScheduleService schedules, CancellationToken ct) =>
            TypedResults.Ok(await schedules.PauseAsync(pipelineId, scheduleId, ct))).RequireAuthorization(AccessRoles.OperatePolicy);
        group.MapPost("/{scheduleId:int}/resume", async (int pipelineId, int scheduleId, ScheduleService schedules, CancellationToken ct) =>
            TypedResults.Ok(await schedules.ResumeAsync(pipelineId, scheduleId, ct))).RequireAuthorization(AccessRoles.OperatePolicy);
        group.MapDelete("/{scheduleId:int}", async (int pipelineId, int scheduleId, ScheduleService schedules, CancellationToken ct) =>
        {
            await schedules.DeleteAsync(pipelineId, scheduleId, ct);
            return TypedResults.NoContent();
        }).RequireAuthorization(AccessRoles.OperatePolicy);
        return api;
    }
}
