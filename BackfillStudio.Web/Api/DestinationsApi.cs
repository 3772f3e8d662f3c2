using BackfillStudio.Engine.Destinations;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BackfillStudio.Web.Api;

public static class DestinationsApi
{
    public static RouteGroupBuilder MapDestinationsApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/destinations").WithTags("Destinations");
        group.MapGet("/", async (DestinationService destinations, CancellationToken ct) => TypedResults.Ok(await destinations.ListAsync(ct)));
        group.MapPost("/", async Task<Created<DestinationView>> (DestinationInput input, DestinationService destinations, CancellationToken ct) =>
        {
            var created = await destinations.CreateAsync(input, ct);
            return TypedResults.Created($"/api/v1/destinations/{created.Id}", created);
        });
        group.MapGet("/{id:int}", async (int id, DestinationService destinations, CancellationToken ct) => TypedResults.Ok(await destinations.GetAsync(id, ct)));
        group.MapDelete("/{id:int}", async (int id, DestinationService destinations, CancellationToken ct) =>
        {
            await destinations.DeleteAsync(id, ct);
            return TypedResults.NoContent();
        });
        group.MapPost("/{id:int}/test", async (int id, DestinationService destinations, CancellationToken ct) =>
            TypedResults.Ok(await destinations.TestAsync(id, ct)));
        return api;
    }
}
