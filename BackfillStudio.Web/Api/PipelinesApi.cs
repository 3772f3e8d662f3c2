using System.Security.Claims;
using BackfillStudio.Engine.Pipelines;
using Microsoft.AspNetCore.Http.HttpResults;

using BackfillStudio.Web.Access;

namespace BackfillStudio.Web.Api;

public static class PipelinesApi
{
    public static RouteGroupBuilder MapPipelinesApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/pipelines").WithTags("Pipelines")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/", async (PipelineService pipelines, CancellationToken ct) => TypedResults.Ok(await pipelines.ListAsync(ct)));
        group.MapPost("/", async Task<Created<PipelineView>> (PipelineInput input, PipelineService pipelines, CancellationToken ct) =>
        {
            var created = await pipelines.CreateAsync(input, ct);
            return TypedResults.Created($"/api/v1/pipelines/{created.Id}", created);
        }).RequireAuthorization(AccessRoles.AdministerPolicy);
        group.MapGet("/{id:int}", async (int id, PipelineService pipelines, CancellationToken ct) => TypedResults.Ok(await pipelines.GetAsync(id, ct)));
        group.MapDelete("/{id:int}", async (int id, PipelineService pipelines, ClaimsPrincipal user, CancellationToken ct) =>
        {
            await pipelines.DeleteAsync(id, user.Identity?.Name, ct);
            return TypedResults.NoContent();
        }).RequireAuthorization(AccessRoles.AdministerPolicy);
        return api;
    }
}
