using System.Data.Common;
using System.Text.Json;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Filters;

namespace BackfillStudio.Engine.Verification;

/// <summary>
/// The keys of the rows a repair deleted in a destination, as their canonical text (<see cref="PostgresCanonical"/>).
/// A repair of a filtered job deletes the rows of a range that match the filters there, which includes a row that
/// matched when it was copied and has left the filters in the source since; re-copying only the rows that match in the
/// source would lose it. So the source's rows of the range are re-copied when they match, or when their key is one of
/// these: a repair removes only what the source no longer holds.
/// </summary>
public static class RepairKeys
{
    /// <summary>The key columns' canonical text in a destination; <see cref="NotSupportedException"/> when one has none there.</summary>
    public static IReadOnlyList<string> Expressions(TableSchema table, Func<SourceColumn, string?> canonical, string destination) =>
        table.PrimaryKey.Select(c => canonical(c) ?? throw new NotSupportedException(
            $"{destination} cannot render the key column {c.Name} as PostgreSQL does, so a repair of a filtered job could not find " +
            "again the rows that left its filters; start a new backfill instead.")).ToList();

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

    /// <summary>The source's rows that <paramref name="filter"/> selects, and those whose key is one of <paramref name="keys"/>.</summary>
    public static FilterPredicate Including(FilterPredicate filter, TableSchema table, IReadOnlyList<string[]> keys)
    {
        if (keys.Count == 0) return filter;
        var canonical = string.Join(", ", table.PrimaryKey.Select(c => PostgresCanonical.Canonical(c, Sql.Ident(c.Name))));
        // Qualified, so that a column of the table named like the key list cannot be taken for it.
        var elements = string.Join(", ", table.PrimaryKey.Select((_, i) => $"backfill_deleted.key ->> {i}"));
        return filter.Or(value => $"({canonical}) IN (SELECT {elements} FROM json_array_elements(CAST({value} AS json)) AS backfill_deleted(key))",
            JsonSerializer.Serialize(keys));
    }
}
