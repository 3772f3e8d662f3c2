using System.Globalization;
using System.Text.Json.Nodes;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>Lenient reads of fields in request bodies and tokens.</summary>
internal static class JsonFields
{
    public static string? GetString(JsonObject? obj, string name) =>
        obj?[name] is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    /// <summary>Reads a whole number given as a JSON number or as a numeric string.</summary>
    public static bool TryGetInteger(JsonNode? node, out long number)
    {
        number = 0;
        if (node is not JsonValue value) return false;
        if (value.TryGetValue(out number)) return true;
        if (value.TryGetValue(out double real) && Math.Floor(real) == real && Math.Abs(real) < 9e18)
        {
            number = (long)real;
            return true;
        }
        return value.TryGetValue(out string? text)
            && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number);
    }
}
