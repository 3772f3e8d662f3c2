using BackfillStudio.Engine.Destinations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;

using BackfillStudio.Web.Access;

namespace BackfillStudio.Web.Api;

public static class DestinationsApi
{
    public static RouteGroupBuilder MapDestinationsApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/destinations").WithTags("Destinations")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/", async (DestinationService destinations, CancellationToken ct) => TypedResults.Ok(await destinations.ListAsync(ct)));
        group.MapPost("/", async Task<Created<DestinationView>> (DestinationInput input, DestinationService destinations, CancellationToken ct) =>
        {
            var created = await destinations.CreateAsync(input, ct);
            return TypedResults.Created($"/api/v1/destinations/{created.Id}", created);
        }).RequireAuthorization(AccessRoles.AdministerPolicy);
        group.MapGet("/{id:int}", async (int id, DestinationService destinations, CancellationToken ct) => TypedResults.Ok(await destinations.GetAsync(id, ct)));
        group.MapPut("/{id:int}", async (int id, DestinationInput input, DestinationService destinations, CancellationToken ct) =>
            TypedResults.Ok(await destinations.UpdateAsync(id, input, ct))).RequireAuthorization(AccessRoles.AdministerPolicy);
        group.MapDelete("/{id:int}", async (int id, DestinationService destinations, CancellationToken ct) =>
        {
            await destinations.DeleteAsync(id, ct);
            return TypedResults.NoContent();
        }).RequireAuthorization(AccessRoles.AdministerPolicy);
        group.MapPost("/test", async (DestinationInput input, DestinationService destinations, CancellationToken ct) =>
            TypedResults.Ok(await destinations.TestInputAsync(null, input, ct))).RequireAuthorization(AccessRoles.AdministerPolicy);
        // Without a body the stored settings are tested; with one, those settings (omitted secrets mean the stored ones).
        group.MapPost("/{id:int}/test", async (int id, [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] DestinationInput? input,
            DestinationService destinations, CancellationToken ct) =>
            TypedResults.Ok(input is null ? await destinations.TestAsync(id, ct) : await destinations.TestInputAsync(id, input, ct))).RequireAuthorization(AccessRoles.AdministerPolicy);
        return api;
    }
}
