namespace BackfillStudio.Web.Access;

/// <summary>401 and 403 answers of the API as RFC 7807 problem details.</summary>
public static class AccessProblems
{
    public static bool IsApi(HttpContext context) => context.Request.Path.StartsWithSegments("/api/v1");

    public static Task UnauthorizedAsync(HttpContext context) => WriteAsync(context, StatusCodes.Status401Unauthorized, "Unauthorized",
        "Send a valid API key as 'Authorization: Bearer <key>'. Keys are created by an admin on the API keys page.");

    public static Task ForbiddenAsync(HttpContext context, string detail) =>
        WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden", detail);

    private static Task WriteAsync(HttpContext context, int status, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail).ExecuteAsync(context);
}
