namespace BackfillStudio.Web.Health;

/// <summary>
/// <c>dotnet BackfillStudio.Web.dll health-probe [url]</c>: exits 0 when the URL answers 2xx. Container
/// health checks use it because the ASP.NET runtime image has no curl or wget.
/// </summary>
public static class HealthProbe
{
    public const string Command = "health-probe";

    public static async Task<int> RunAsync(string? url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(url ?? "http://127.0.0.1:8080/health/live");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return 1;
        }
    }
}
