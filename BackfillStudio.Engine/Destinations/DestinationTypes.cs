using System.Text.Json.Nodes;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Destinations.DuckDb;
using BackfillStudio.Engine.Destinations.Parquet;
using BackfillStudio.Engine.Destinations.Postgres;
using BackfillStudio.Engine.Destinations.Snowflake;

namespace BackfillStudio.Engine.Destinations;

/// <summary>The destination types BackfillStudio knows: adding one is a folder with its <see cref="DestinationType"/> and a line here.</summary>
public static class DestinationTypes
{
    public static readonly IReadOnlyList<DestinationType> All =
    [
        new PostgresDestinationType(),
        new DuckDbDestinationType(),
        new ParquetDestinationType(),
        new SnowflakeDestinationType(),
    ];

    public static IEnumerable<string> Names => All.Select(t => t.Name);

    public static DestinationType? Find(string? name) => All.FirstOrDefault(t => t.Name == name);

    public static DestinationType Of(DestinationSettings settings) => All.First(t => t.SettingsType == settings.GetType());

    /// <summary>Validates a destination's config object for its type; errors are keyed <c>type</c> or <c>config.&lt;name&gt;</c>.</summary>
    /// <param name="refuseUnknownKeys">For input: a key that names no setting is an error (stored settings may keep one from before).</param>
    public static DestinationSettings? Parse(string type, JsonObject config, ValidationErrors errors, bool refuseUnknownKeys = false)
    {
        if (Find(type) is not { } destinationType)
        {
            errors.Add("type", $"Type '{Messages.Shorten(type)}' is not supported; use one of {string.Join(", ", Names)}.");
            return null;
        }
        var reader = new ConfigReader(config, errors);
        var settings = destinationType.Parse(reader, errors);
        if (refuseUnknownKeys) reader.RefuseUnknownKeys(destinationType.SettingKeys, type);
        return errors.Any ? null : settings;
    }
}
