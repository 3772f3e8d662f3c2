using System.Text.Json.Nodes;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Sources;

namespace BackfillStudio.Engine.Destinations;

/// <summary>Reads a destination's <c>config</c> object, collecting errors keyed <c>config.&lt;name&gt;</c>.</summary>
public sealed class ConfigReader(JsonObject config, ValidationErrors errors)
{
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public string? Optional(string name)
    {
        _read.Add(name);
        // Matched as spelt: the API's JSON reader gives an object that finds "Password" for "password", and a key kept
        // as the client spelt it would not be taken for the secret it is.
        var node = config.FirstOrDefault(p => p.Key == name).Value;
        if (node is null) return null;
        if (node is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.String)
        {
            var text = StoredText.Read(value.GetValue<string>, out var unstorable);
            if (unstorable is null) return string.IsNullOrWhiteSpace(text) ? null : text;
            errors.Add($"config.{name}", $"'{name}' must not contain {unstorable}.");
            return null;
        }
        if (node is JsonValue number && number.TryGetValue<int>(out var n)) return n.ToString();
        errors.Add($"config.{name}", $"'{name}' must be a string.");
        return null;
    }

    public string Required(string name)
    {
        var value = Optional(name);
        if (value is null) errors.Add($"config.{name}", $"'{name}' is required.");
        return value ?? "";
    }

    /// <summary>A name PostgreSQL keeps whole (<see cref="Sql.IdentifierTooLong"/>).</summary>
    public string? PostgresIdentifier(string name)
    {
        var value = Optional(name);
        if (value is not null && Sql.IdentifierTooLong(value) is { } tooLong) errors.Add($"config.{name}", $"'{name}' {tooLong}.");
        return value;
    }

    /// <summary>Refuses every key that is not one of <paramref name="settings"/> or read: a misspelt one would be ignored, a mis-cased secret kept in plain text.</summary>
    public void RefuseUnknownKeys(IReadOnlySet<string> settings, string type)
    {
        foreach (var (key, _) in config)
            if (!settings.Contains(key) && !_read.Contains(key))
                errors.Add($"config.{Messages.Shorten(key)}", $"'{Messages.Shorten(key)}' is not a setting of a {type} destination " +
                    $"(names are lower case, as spelt); its settings are {string.Join(", ", settings)}.");
    }

    public int Port(string name, int fallback)
    {
        var text = Optional(name);
        if (text is null) return fallback;
        if (int.TryParse(text, out var port) && port is > 0 and < 65536) return port;
        errors.Add($"config.{name}", $"'{name}' must be a port number between 1 and 65535.");
        return fallback;
    }

    public string SslMode(string name)
    {
        var mode = Optional(name) ?? "prefer";
        if (!SourceSettings.SslModes.Contains(mode))
            errors.Add($"config.{name}", $"'{name}' must be one of {string.Join(", ", SourceSettings.SslModes)}.");
        return mode;
    }

    public string OneOf(string name, string fallback, params string[] allowed)
    {
        var value = Optional(name) ?? fallback;
        if (!allowed.Contains(value)) errors.Add($"config.{name}", $"'{name}' must be one of {string.Join(", ", allowed)}.");
        return value;
    }

    public string Path(string name)
    {
        var path = Required(name);
        if (path.Length > 0 && path.IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
            errors.Add($"config.{name}", $"'{name}' is not a valid path.");
        return path;
    }
}
