using System.Text.RegularExpressions;
using Npgsql;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>
/// Values for a statement that takes no parameters (COPY): a parameterised <c>set_config</c> stores them as settings of
/// the session, and the statement reads them back with <c>current_setting</c>, so no value is ever part of the SQL text.
/// </summary>
public static partial class SessionValues
{
    private const string Prefix = "backfillstudio.";

    /// <summary>The SQL expression (text) that reads the value named <paramref name="name"/>.</summary>
    public static string Read(string name) => $"current_setting('{Prefix}{CheckedName(name)}')";

    public static async Task SetAsync(NpgsqlConnection connection, IReadOnlyList<(string Name, string Value)> values, CancellationToken ct)
    {
        if (values.Count == 0) return;
        await using var cmd = new NpgsqlCommand("SELECT count(set_config(n, v, false)) FROM unnest(@names, @values) AS s(n, v)", connection);
        cmd.Parameters.AddWithValue("names", values.Select(v => Prefix + CheckedName(v.Name)).ToArray());
        cmd.Parameters.AddWithValue("values", values.Select(v => v.Value).ToArray());
        await cmd.ExecuteScalarAsync(ct);
    }

    /// <summary>Names are the engine's own (<c>f0</c>, <c>k1</c>); anything else is a bug, not input.</summary>
    private static string CheckedName(string name) =>
        NamePattern().IsMatch(name) ? name : throw new ArgumentException($"'{name}' is not a session value name.", nameof(name));

    [GeneratedRegex("^[a-z][a-z0-9_]{0,30}$")]
    private static partial Regex NamePattern();
}
