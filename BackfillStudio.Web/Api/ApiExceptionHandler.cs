using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Sources;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Web.Api;

/// <summary>Turns application exceptions into RFC 7807 problem details with the right status code.</summary>
public sealed partial class ApiExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        ProblemDetails? problem = exception switch
        {
            ValidationFailedException v => new HttpValidationProblemDetails(v.Errors.ToDictionary(e => e.Key, e => e.Value))
            {
                Status = StatusCodes.Status400BadRequest,
                Title = "One or more fields are invalid.",
                Detail = string.Join(" ", v.Errors.SelectMany(e => e.Value.Select(m => $"{e.Key}: {m}"))),
            },
            BadHttpRequestException { InnerException: System.Text.Json.JsonException { Path: { Length: > 2 } path } } b => Unreadable(b, FieldOf(path)),
            BadHttpRequestException b when UnboundParameter(b.Message) is { } parameter => Unreadable(b, parameter),
            BadHttpRequestException b => new ProblemDetails { Status = b.StatusCode, Title = "The request could not be read.", Detail = b.Message },
            NotFoundException n => new ProblemDetails { Status = StatusCodes.Status404NotFound, Title = "Not found.", Detail = n.Message },
            ConflictException c => new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "Conflict.", Detail = c.Message },
            DbUpdateException d when ConfigDbContext.ConcurrentChangeMessage(d) is { } raced =>
                new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "Conflict.", Detail = raced },
            SourceUnavailableException s => new ProblemDetails { Status = StatusCodes.Status502BadGateway, Title = "The source database is unreachable.", Detail = s.Message },
            _ => null,
        };
        if (problem is null) return false;
        context.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>A JSON value of the wrong kind (a word for a number, say), named by its field.</summary>
    private static HttpValidationProblemDetails Unreadable(BadHttpRequestException exception, string field) =>
        new(new Dictionary<string, string[]> { [field] = ["The value is not of the kind this field takes (a number, a string, a boolean, a list or an object)."] })
        {
            Status = exception.StatusCode,
            Title = "One or more fields are invalid.",
            Detail = $"{field}: the value is not of the kind this field takes.",
        };

    /// <summary>
    /// The query or route parameter of a value of the wrong kind (<c>?limit=abc</c>), as the API names it: ASP.NET's message
    /// names it as C# spells it ("Failed to bind parameter "int limit" from "abc"."), and the API's names are those in snake_case.
    /// </summary>
    private static string? UnboundParameter(string message) =>
        BindFailure().Match(message) is { Success: true } m ? System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(m.Groups["name"].Value) : null;

    [System.Text.RegularExpressions.GeneratedRegex("""^Failed to bind parameter "[^"]*?(?<name>\w+)" from """)]
    private static partial System.Text.RegularExpressions.Regex BindFailure();

    /// <summary>The field of a JSON path as the API names fields: <c>$.filters[0].value</c> is <c>filters[0].value</c>.</summary>
    private static string FieldOf(string path) => path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
}
