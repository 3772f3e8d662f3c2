using System.Security.Claims;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Sources;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;

using BackfillStudio.Web.Access;

namespace BackfillStudio.Web.Api;

public sealed record ColumnView(string Name, string DataType, bool Nullable, bool IsPrimaryKey);

public sealed record TableView(string TableName, long EstimatedRows, IReadOnlyList<string> PrimaryKey);

public static class SourcesApi
{
    public static RouteGroupBuilder MapSourcesApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/sources").WithTags("Sources")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/", async (SourceService sources, CancellationToken ct) => TypedResults.Ok(await sources.ListAsync(ct)));
        group.MapPost("/", async Task<Created<SourceView>> (SourceInput input, SourceService sources, CancellationToken ct) =>
        {
            var created = await sources.CreateAsync(input, ct);
            return TypedResults.Created($"/api/v1/sources/{created.Id}", created);
        }).RequireAuthorization(AccessRoles.AdministerPolicy);
        group.MapGet("/{id:int}", async (int id, SourceService sources, CancellationToken ct) => TypedResults.Ok(await sources.GetAsync(id, ct)));
        group.MapPut("/{id:int}", async (int id, SourceInput input, SourceService sources, CancellationToken ct) =>
            TypedResults.Ok(await sources.UpdateAsync(id, input, ct))).RequireAuthorization(AccessRoles.AdministerPolicy);
        group.MapDelete("/{id:int}", async (int id, SourceService sources, ClaimsPrincipal user, CancellationToken ct) =>
        {
            await sources.DeleteAsync(id, user.Identity?.Name, ct);
            return TypedResults.NoContent();
        }).RequireAuthorization(AccessRoles.AdministerPolicy);
        group.MapPost("/test", async (SourceInput input, SourceService sources, CancellationToken ct) =>
            TypedResults.Ok(await sources.TestInputAsync(null, input, ct))).RequireAuthorization(AccessRoles.AdministerPolicy);
        // Without a body the stored settings are tested; with one, those settings (an omitted password means the stored one).
        group.MapPost("/{id:int}/test", async (int id, [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] SourceInput? input,
            SourceService sources, CancellationToken ct) =>
            TypedResults.Ok(input is null ? await sources.TestAsync(id, ct) : await sources.TestInputAsync(id, input, ct))).RequireAuthorization(AccessRoles.AdministerPolicy);
        group.MapGet("/{id:int}/tables", async (int id, SourceService sources, CancellationToken ct,
            [FromQuery(Name = "include_partitions")] bool includePartitions = false) =>
        {
            await using var source = await sources.OpenAsync(id, ct);
            return TypedResults.Ok((await source.ListTablesAsync(includePartitions, ct)).Select(t => new TableView(t.TableName, t.EstimatedRows, t.PrimaryKey)));
        });
        group.MapGet("/{id:int}/tables/{tableName}/columns", async (int id, string tableName, SourceService sources, CancellationToken ct) =>
        {
            await using var source = await sources.OpenAsync(id, ct);
            return TypedResults.Ok(ToColumns(await source.TableAsync(tableName, ct)));
        });
        return api;
    }

    private static IEnumerable<ColumnView> ToColumns(TableSchema table) =>
        table.Columns.Select(c => new ColumnView(c.Name, c.DataType, c.Nullable, c.IsPrimaryKey));
}
