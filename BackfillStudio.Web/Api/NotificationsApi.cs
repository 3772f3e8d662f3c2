using BackfillStudio.Engine.Notifications;
using BackfillStudio.Web.Access;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BackfillStudio.Web.Api;

/// <summary>Notification channels (webhooks and e-mail) and their delivery logs; Admin only, like other settings holding secrets.</summary>
public static class NotificationsApi
{
    public static RouteGroupBuilder MapNotificationsApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/notifications").WithTags("Notifications").RequireAuthorization(AccessRoles.AdministerPolicy)
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/", async (NotificationService notifications, CancellationToken ct) => TypedResults.Ok(await notifications.ListAsync(ct)));
        group.MapPost("/", async Task<Created<NotificationChannelView>> (NotificationChannelInput input, NotificationService notifications, CancellationToken ct) =>
        {
            var created = await notifications.CreateAsync(input, ct);
            return TypedResults.Created($"/api/v1/notifications/{created.Id}", created);
        });
        group.MapGet("/{id:int}", async (int id, NotificationService notifications, CancellationToken ct) => TypedResults.Ok(await notifications.GetAsync(id, ct)));
        group.MapPut("/{id:int}", async (int id, NotificationChannelInput input, NotificationService notifications, CancellationToken ct) =>
            TypedResults.Ok(await notifications.UpdateAsync(id, input, ct)));
        group.MapDelete("/{id:int}", async (int id, NotificationService notifications, CancellationToken ct) =>
        {
            await notifications.DeleteAsync(id, ct);
            return TypedResults.NoContent();
        });
        group.MapPost("/{id:int}/test", async (int id, NotificationService notifications, CancellationToken ct) =>
            TypedResults.Accepted($"/api/v1/notifications/{id}/deliveries", await notifications.SendTestAsync(id, ct)));
        group.MapGet("/{id:int}/deliveries", async (int id, NotificationService notifications, CancellationToken ct, int limit = 100) =>
            TypedResults.Ok(await notifications.DeliveriesAsync(id, limit, ct)));
        return api;
    }
}
