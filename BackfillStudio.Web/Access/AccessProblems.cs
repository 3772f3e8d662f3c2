namespace BackfillStudio.Web.Access;

/// <summary>401 and 403 answers of the API as RFC 7807 problem details.</summary>
public static class AccessProblems
{
    public static bool IsApi(HttpContext context) => context.Request.Path.StartsWithSegments("/api");

    public static Task WriteAsync(HttpContext context, int status, string detail) =>
        Results.Problem(statusCode: status, title: status == StatusCodes.Status401Unauthorized ? "Unauthorized" : "Forbidden", detail: detail)
            .ExecuteAsync(context);
}
