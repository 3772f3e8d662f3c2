using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Filters;
using Npgsql;

namespace BackfillStudio.Engine.Verification;

/// <summary>The source's side of a verification: filter values resolved, the key ranges, and each range's counts and checksums.</summary>
public sealed class SourceVerifier(NpgsqlConnection connection, TableSchema table, FilterPredicate filter)
{
    /// <summary>Each filter's value cast by the source to the column's type, as canonical text and ordinal.</summary>
    public static async Task<IReadOnlyList<VerifyFilter>> ResolveAsync(NpgsqlConnection connection, TableSchema table,
        IReadOnlyList<BackfillFilter> filters, CancellationToken ct)
    {
        var resolved = new List<VerifyFilter>();
        foreach (var f in filters)
        {
            var column = table.FindColumn(f.Column) ?? throw new InvalidOperationException($"Column '{f.Column}' no longer exists in {table.TableName}.");
            FilterOperators.TryParse(f.Operator, out var op);
            // Every destination holds a row value as one text, which is NULL only when the row is.
            if (column.IsComposite && op is FilterOperator.IsNull or FilterOperator.IsNotNull)
                throw new NotSupportedException($"The job's filter {f.Column} {op.ToSymbol()} tests a row value, which PostgreSQL finds NULL only " +
                    "when every field is NULL, and NOT NULL only when none is; no destination holds it as a row, so its rows there cannot be " +
                    "told apart. Verify a backfill without that filter.");
            if (!op.TakesValue() || op.IsPattern())
            {
                resolved.Add(new VerifyFilter(f, column, op, null, null));
                continue;
            }
            var value = FilterPredicate.CastValue(column, "v");
            await using var cmd = new NpgsqlCommand(
                $"SELECT {PostgresCanonical.Canonical(column, value)}, {PostgresCanonical.Ordinal(column, value) ?? "NULL::bigint"}", connection);
            cmd.Parameters.Add(new NpgsqlParameter("v", NpgsqlTypes.NpgsqlDbType.Text) { Value = f.Value ?? "" });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            resolved.Add(new VerifyFilter(f, column, op, reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetInt64(1)));
        }
        return resolved;
    }

    /// <summary>
    /// Cuts the matching rows into ranges of about <paramref name="rangeRows"/> rows in key order (one pass over the
    /// key); the first range has no lower bound and the last no upper bound, so rows beyond either end count too.
    /// </summary>
    public async Task<IReadOnlyList<KeyRange>> RangesAsync(int rangeRows, CancellationToken ct)
    {
        if (table.PrimaryKey.Count == 0) return [KeyRange.Whole];
        var key = table.PrimaryKey;
        var keyList = string.Join(", ", key.Select(c => Sql.Ident(c.Name)));
        var texts = key.Select((c, i) => $"{Sql.Ident(c.Name)}::text AS t{i}");
        var ordinals = key.Select((c, i) => $"{PostgresCanonical.Ordinal(c, Sql.Ident(c.Name)) ?? "NULL::bigint"} AS o{i}");
        await using var cmd = new NpgsqlCommand($"""
            SELECT * FROM (
                SELECT {string.Join(", ", texts.Concat(ordinals))}, row_number() OVER (ORDER BY {keyList}) AS backfill_n
                FROM {table.QualifiedSql} WHERE {filter.Sql}) AS numbered
            WHERE backfill_n % @size = 0 ORDER BY backfill_n
            """, connection);
        filter.AddParameters(cmd);
        cmd.Parameters.AddWithValue("size", (long)rangeRows);
        var bounds = new List<KeyBound>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var text = Enumerable.Range(0, key.Count).Select(reader.GetString).ToList();
                var numbers = Enumerable.Range(0, key.Count).Select(i => reader.IsDBNull(key.Count + i) ? (long?)null : reader.GetInt64(key.Count + i)).ToList();
                bounds.Add(new KeyBound(text, numbers.All(n => n is not null) ? numbers.Select(n => n!.Value).ToList() : null));
            }
        }
        // The last bound would leave an empty last range (or a sliver): the open last range takes its rows instead.
        if (bounds.Count > 0) bounds.RemoveAt(bounds.Count - 1);
        var ranges = new List<KeyRange>();
        KeyBound? after = null;
        foreach (var bound in bounds)
        {
            ranges.Add(new KeyRange(after, bound));
            after = bound;
        }
        ranges.Add(new KeyRange(after, null));
        return ranges;
    }

    /// <summary>A key bound given by its text (as a report lists it), with its ordinals computed by the source.</summary>
    public async Task<KeyBound?> BoundAsync(IReadOnlyList<string>? text, CancellationToken ct)
    {
        if (text is null) return null;
        var key = table.PrimaryKey;
        if (text.Count != key.Count) throw new InvalidOperationException($"The range bound has {text.Count} values; the key of {table.TableName} has {key.Count} columns.");
        var ordinals = key.Select((c, i) => PostgresCanonical.Ordinal(c, $"CAST(@k{i} AS {c.DataType})") ?? "NULL::bigint");
        await using var cmd = new NpgsqlCommand($"SELECT {string.Join(", ", ordinals)}", connection);
        for (var i = 0; i < key.Count; i++) cmd.Parameters.AddWithValue($"k{i}", text[i]);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var numbers = Enumerable.Range(0, key.Count).Select(i => reader.IsDBNull(i) ? (long?)null : reader.GetInt64(i)).ToList();
        return new KeyBound(text, numbers.All(n => n is not null) ? numbers.Select(n => n!.Value).ToList() : null);
    }

    /// <summary>The range's matching rows: their count and one checksum per column list asked for (empty in count mode).</summary>
    public async Task<(long Rows, IReadOnlyList<string> Checksums)> MeasureAsync(KeyRange range, IReadOnlyList<IReadOnlyList<SourceColumn>> checksums,
        CancellationToken ct)
    {
        var sums = checksums.Select(columns => PostgresCanonical.RowChecksum(columns.Select(c => PostgresCanonical.Canonical(c, Sql.Ident(c.Name)))));
        await using var cmd = new NpgsqlCommand(
            $"SELECT {string.Join(", ", sums.Prepend("count(*)"))} FROM {table.QualifiedSql} WHERE ({filter.Sql}) AND {RangeSql(table, range, "", null)}",
            connection);
        filter.AddParameters(cmd);
        AddRangeParameters(cmd, range);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), Enumerable.Range(1, checksums.Count).Select(reader.GetString).ToList());
    }

    /// <summary>PostgreSQL's own row comparison of the key with the range's bounds, cast to each key column's <paramref name="type"/>.</summary>
    public static string RangeSql(TableSchema table, KeyRange range, string prefix, Func<SourceColumn, string>? type)
    {
        var keyList = string.Join(", ", table.PrimaryKey.Select(c => prefix + Sql.Ident(c.Name)));
        string Bound(string p) => string.Join(", ", table.PrimaryKey.Select((c, i) => $"CAST(@{p}{i} AS {type?.Invoke(c) ?? c.DataType})"));
        var parts = new List<string>();
        if (range.After is not null) parts.Add($"({keyList}) > ({Bound("lo")})");
        if (range.UpTo is not null) parts.Add($"({keyList}) <= ({Bound("hi")})");
        return parts.Count == 0 ? "TRUE" : string.Join(" AND ", parts);
    }

    public static void AddRangeParameters(NpgsqlCommand cmd, KeyRange range)
    {
        for (var i = 0; range.After is not null && i < range.After.Text.Count; i++) cmd.Parameters.AddWithValue($"lo{i}", range.After.Text[i]);
        for (var i = 0; range.UpTo is not null && i < range.UpTo.Text.Count; i++) cmd.Parameters.AddWithValue($"hi{i}", range.UpTo.Text[i]);
    }
}
