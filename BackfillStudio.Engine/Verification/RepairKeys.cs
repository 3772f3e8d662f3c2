using System.Data.Common;
using System.Text.Json;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Filters;

namespace BackfillStudio.Engine.Verification;

/// <summary>
/// The keys of a range's rows that match a filtered job's filters in a destination, as their canonical text
/// (<see cref="PostgresCanonical"/>). A repair deletes those rows and copies the source's matching rows again; among them
/// may be a row that matched when it was copied and has left the filters in the source since, which copying only the
/// source's matching rows would lose. So, before the delete, the source's rows with these keys that no longer match are
/// written again as the source has them now (outside the filters, where the delete leaves them): a repair removes only
/// what the source no longer holds, and a repair that stops half-way has lost nothing the next one cannot find.
/// </summary>
public static class RepairKeys
{
    /// <summary>Most keys a repair of a filtered job reads for one range: they are held in memory and sent to the source.</summary>
    public const long MaxKeys = 1_000_000;

    /// <summary>The key columns' canonical texts in a destination, as a SELECT list; <see cref="NotSupportedException"/> when one has none there.</summary>
    public static string List(TableSchema table, Func<SourceColumn, string?> canonical, string destination) =>
        string.Join(", ", table.PrimaryKey.Select(c => canonical(c) ?? throw new NotSupportedException(
            $"{destination} cannot render the key column {c.Name} as PostgreSQL does, so a repair of a filtered job could not find " +
            "again the rows that left its filters; start a new backfill instead.")));

    /// <summary>Every row of <paramref name="reader"/>, whose columns are the key's canonical texts.</summary>
    public static List<string[]> ReadAll(DbDataReader reader)
    {
        var keys = new List<string[]>();
        while (reader.Read())
        {
            var key = new string[reader.FieldCount];
            for (var i = 0; i < key.Length; i++) key[i] = reader.GetString(i);
            keys.Add(key);
        }
        return keys;
    }

    /// <summary>The source's rows whose key is one of <paramref name="keys"/> and that <paramref name="filter"/> no longer selects.</summary>
    public static FilterPredicate LeftTheFilters(FilterPredicate filter, TableSchema table, IReadOnlyList<string[]> keys)
    {
        var canonical = string.Join(", ", table.PrimaryKey.Select(c => PostgresCanonical.Canonical(c, Sql.Ident(c.Name))));
        // Qualified, so that a column of the table named like the key list cannot be taken for it.
        var elements = string.Join(", ", table.PrimaryKey.Select((_, i) => $"backfill_keys.key ->> {i}"));
        return filter.Extend((matches, value) =>
            $"({matches}) IS NOT TRUE AND ({canonical}) IN (SELECT {elements} FROM json_array_elements(CAST({value} AS json)) AS backfill_keys(key))",
            JsonSerializer.Serialize(keys));
    }
}
