using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace BackfillStudio.Engine.Notifications;

/// <summary>
/// POSTs a delivery's JSON body to a webhook, signed so the receiver can tell it came from us: header
/// <c>X-Backfill-Signature: sha256=&lt;hex HMAC-SHA256 of the body with the channel's secret&gt;</c>, plus
/// <c>X-Backfill-Event</c> and <c>X-Backfill-Delivery</c> (the same on every retry, for de-duplication).
/// </summary>
public static class WebhookSender
{
    public const string SignatureHeader = "X-Backfill-Signature";
    public const string EventHeader = "X-Backfill-Event";
    public const string DeliveryHeader = "X-Backfill-Delivery";

    public static string Signature(string secret, byte[] body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>Returns null when the receiver answered 2xx, else why not (its status, or the error without the URL).</summary>
    public static async Task<string?> SendAsync(HttpClient http, string url, string secret, string eventName, Guid deliveryId, byte[] body,
        CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add(SignatureHeader, Signature(secret, body));
        request.Headers.Add(EventHeader, eventName);
        request.Headers.Add(DeliveryHeader, deliveryId.ToString());
        try
        {
            using var response = await http.SendAsync(request, ct);
            return response.IsSuccessStatusCode ? null : $"The receiver answered {(int)response.StatusCode} {response.ReasonPhrase}.";
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"The receiver did not answer within {http.Timeout.TotalSeconds:0} s.";
        }
        catch (HttpRequestException e)
        {
            // The message may carry the host, never the URL's path or query (which can hold a token).
            return $"Could not reach the receiver: {e.HttpRequestError}{(e.InnerException is { } inner ? $" ({inner.Message})" : "")}.";
        }
    }
}
