namespace BackfillStudio.Engine.Destinations;

public enum DestinationFieldKind
{
    Text,
    Number,
    Secret,
    MultilineSecret,
    Choice,
}

/// <summary>
/// One setting in a destination's <c>config</c>: how the form shows it, and how it is kept. Secret fields are stored
/// encrypted and never returned; <paramref name="Identity"/> fields say where the secrets are sent, so a stored secret
/// is reused only while they stay the same.
/// </summary>
public sealed record DestinationField(string Key, string Label, DestinationFieldKind Kind = DestinationFieldKind.Text,
    bool Required = false, string? Help = null, IReadOnlyList<string>? Choices = null, bool Identity = false)
{
    public bool IsSecret => Kind is DestinationFieldKind.Secret or DestinationFieldKind.MultilineSecret;
}
