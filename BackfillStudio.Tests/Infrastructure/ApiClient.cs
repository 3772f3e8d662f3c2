using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>Thin helpers over the REST API as a user's script would call it.</summary>
public static class ApiClient
{
    public static async Task<JsonObject> PostOkAsync(this HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body, TestApp.Json);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path} → {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<(HttpStatusCode Status, JsonObject Body)> PostJsonAsync(this HttpClient http, string path, object? body = null)
    {
        using var response = body is null ? await http.PostAsync(path, null) : await http.PostAsJsonAsync(path, body, TestApp.Json);
        return (response.StatusCode, await ReadObjectAsync(response));
    }

    public static async Task<(HttpStatusCode Status, JsonObject Body)> GetJsonAsync(this HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        return (response.StatusCode, await ReadObjectAsync(response));
    }

    public static async Task<JsonNode> GetOkAsync(this HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} → {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    public static async Task<JsonObject> GetJobAsync(this HttpClient http, int jobId) =>
        (await http.GetOkAsync($"/api/v1/backfill/{jobId}")).AsObject();

    /// <summary>Polls a job until it reaches one of <paramref name="statuses"/> (or fails the test after the timeout).</summary>
    public static async Task<JsonObject> WaitForJobAsync(this HttpClient http, int jobId, TimeSpan timeout, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var job = await http.GetJobAsync(jobId);
            if (statuses.Contains((string)job["status"]!)) return job;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Job {jobId} did not reach {string.Join("/", statuses)} within {timeout}: {job.ToJsonString()}");
            await Task.Delay(100);
        }
    }

    public static async Task<JsonObject> WaitUntilAsync(this HttpClient http, int jobId, TimeSpan timeout, Func<JsonObject, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var job = await http.GetJobAsync(jobId);
            if (condition(job)) return job;
            if ((string)job["status"]! is "COMPLETED" or "FAILED" or "CANCELLED")
                Assert.Fail($"Job {jobId} ended before {what}: {job.ToJsonString()}");
            if (DateTime.UtcNow > deadline) Assert.Fail($"Job {jobId}: {what} did not happen within {timeout}: {job.ToJsonString()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls a job until its verification reaches one of <paramref name="statuses"/>; returns the verification object.</summary>
    public static async Task<JsonObject> WaitForVerificationAsync(this HttpClient http, int jobId, TimeSpan timeout, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var job = await http.GetJobAsync(jobId);
            if (job["verification"] is JsonObject verification && statuses.Contains((string)verification["status"]!)) return verification;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Job {jobId}'s verification did not reach {string.Join("/", statuses)} within {timeout}: {job.ToJsonString()}");
            await Task.Delay(100);
        }
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return string.IsNullOrWhiteSpace(text) ? [] : JsonNode.Parse(text) as JsonObject ?? new JsonObject { ["value"] = JsonNode.Parse(text) };
    }

    /// <summary>Polls a notification channel's delivery log until a delivery meets <paramref name="condition"/>; returns it.</summary>
    public static async Task<JsonNode> WaitForDeliveryAsync(this HttpClient http, TimeSpan timeout, int channelId, Func<JsonNode, bool> condition)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var log = (await http.GetOkAsync($"/api/v1/notifications/{channelId}/deliveries")).AsArray();
            if (log.FirstOrDefault(d => condition(d!)) is { } found) return found;
            if (DateTime.UtcNow > deadline) Assert.Fail($"No such delivery within {timeout}: {log.ToJsonString()}");
            await Task.Delay(100);
        }
    }
}
