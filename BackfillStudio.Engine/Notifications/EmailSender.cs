using MailKit.Net.Smtp;
using MailKit.Security;
using BackfillStudio.Engine.Security;
using MimeKit;

namespace BackfillStudio.Engine.Notifications;

/// <summary>The <c>Smtp</c> section of appsettings.json: the server e-mail channels send through.</summary>
public sealed class SmtpOptions
{
    public const string Section = "Smtp";

    /// <summary>Empty: no server, and e-mail channels cannot be created.</summary>
    public string Host { get; set; } = "";

    [System.ComponentModel.DataAnnotations.Range(1, 65535)]
    public int Port { get; set; } = 587;

    public string? UserName { get; set; }

    public string? Password { get; set; }

    public string From { get; set; } = "BackfillStudio <backfill@localhost>";

    /// <summary><c>none</c>, <c>starttls</c> or <c>ssl</c> (TLS from the first byte).</summary>
    [System.ComponentModel.DataAnnotations.RegularExpression("^(none|starttls|ssl)$", ErrorMessage = "Smtp:Security must be none, starttls or ssl.")]
    public string Security { get; set; } = "starttls";
}

/// <summary>Sends a delivery as a plain-text mail; its Message-ID carries the delivery id, the same on every retry.</summary>
public static class EmailSender
{
    /// <summary>Returns null when the server accepted the mail, else why not (never the password).</summary>
    public static async Task<string?> SendAsync(SmtpOptions smtp, IReadOnlyList<string> recipients, string subject, string text, Guid deliveryId,
        CancellationToken ct)
    {
        var message = new MimeMessage { Subject = subject, MessageId = $"{deliveryId}@backfillstudio", Body = new TextPart("plain") { Text = text } };
        message.From.Add(MailboxAddress.Parse(smtp.From));
        foreach (var recipient in recipients) message.To.Add(MailboxAddress.Parse(recipient));
        using var client = new SmtpClient { Timeout = 10_000 };
        try
        {
            await client.ConnectAsync(smtp.Host, smtp.Port, smtp.Security switch
            {
                "ssl" => SecureSocketOptions.SslOnConnect,
                "starttls" => SecureSocketOptions.StartTls,
                _ => SecureSocketOptions.None,
            }, ct);
            if (!string.IsNullOrEmpty(smtp.UserName)) await client.AuthenticateAsync(smtp.UserName, smtp.Password ?? "", ct);
            await client.SendAsync(message, ct);
            await client.DisconnectAsync(quit: true, ct);
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return SecretScrubber.Scrub($"The SMTP server {smtp.Host}:{smtp.Port} did not take the mail: {e.Message}", [smtp.Password]);
        }
    }
}
