using System.Text.Json.Nodes;
using BackfillStudio.Engine.Destinations.Snowflake;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Sources;

namespace BackfillStudio.Engine.Destinations;

/// <summary>Decrypted, validated settings of one destination; lives only in memory.</summary>
public abstract record DestinationSettings
{
    public static readonly string[] Types = ["postgres", "duckdb", "parquet", "snowflake"];

    /// <summary>Names of the settings that are secrets: stored encrypted, never returned.</summary>
    public static readonly string[] SecretKeys = ["password", "private_key", "private_key_passphrase", "token"];

    /// <summary>The settings that say where the secrets are sent: stored secrets are only reused while these stay the same.</summary>
    public static readonly string[] ConnectionKeys = ["host", "port", "username", "user", "account", "base_url"];

    /// <summary>Secret values, so error messages and logs can be scrubbed of them.</summary>
    public abstract IEnumerable<string?> Secrets { get; }

    /// <summary>Validates a destination's config object; errors are keyed <c>config.&lt;name&gt;</c>.</summary>
    public static DestinationSettings? Parse(string type, JsonObject config, ValidationErrors errors)
    {
        var reader = new ConfigReader(config, errors);
        DestinationSettings? settings = type switch
        {
            "postgres" => new PostgresDestinationSettings(
                reader.Required("host"),
                reader.Port("port", 5432),
                reader.Required("database"),
                reader.Optional("username") ?? reader.Required("user"),
                reader.Optional("password"),
                reader.Optional("schema") ?? "public",
                reader.SslMode("ssl_mode")),
            "duckdb" => new DuckDbDestinationSettings(reader.Path("path"), reader.Optional("schema") ?? "main"),
            "parquet" => new ParquetDestinationSettings(reader.Path("path")),
            "snowflake" => SnowflakeDestinationSettings.Parse(reader, errors),
            _ => null,
        };
        if (settings is null && !Types.Contains(type))
            errors.Add("type", $"Type '{FilterValidator.Shorten(type)}' is not supported; use one of {string.Join(", ", Types)}.");
        return errors.Any ? null : settings;
    }

    internal sealed class ConfigReader(JsonObject config, ValidationErrors errors)
    {
        public string? Optional(string name)
        {
            var node = config[name];
            if (node is null) return null;
            if (node is JsonValue value && value.TryGetValue<string>(out var text)) return string.IsNullOrWhiteSpace(text) ? null : text;
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
}

public sealed record PostgresDestinationSettings(
    string Host, int Port, string Database, string Username, string? Password, string Schema, string SslMode) : DestinationSettings
{
    public override IEnumerable<string?> Secrets => [Password];

    public SourceSettings Connection => new(Host, Port, Database, Username, Password, SslMode);
}

public sealed record DuckDbDestinationSettings(string Path, string Schema) : DestinationSettings
{
    public override IEnumerable<string?> Secrets => [];
}

public sealed record ParquetDestinationSettings(string Path) : DestinationSettings
{
    public override IEnumerable<string?> Secrets => [];
}
