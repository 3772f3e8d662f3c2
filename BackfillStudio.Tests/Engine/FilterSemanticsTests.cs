using BackfillStudio.Tests.Infrastructure;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Engine;

/// <summary>A filter selects exactly the rows that <c>col op 'literal'</c> selects in psql, for the column's own type.</summary>
public sealed class FilterSemanticsTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TYPE prio AS ENUM ('low', 'mid', 'high');
        CREATE TABLE items (
            id int PRIMARY KEY, price real, p prio, wide numeric, at timestamptz, name text, code char(4),
            ratio float8, amount numeric(10,2), day date, label varchar(5));
        INSERT INTO items
        SELECT g,
               (ARRAY[0.1, 0.2, 0.3, 1.5])[1 + g % 4]::real,
               (ARRAY['high', 'low', 'mid']::prio[])[1 + g % 3],
               12345678901234567890123456789.4 + (g % 3) * 0.1,
               timestamptz '2024-03-31 00:00:00+00' + (g % 10) * interval '30 minutes',
               (ARRAY['a%b', 'a_b', 'a\b', 'axb', 'A%B', 'ab'])[1 + g % 6],
               (ARRAY['ab', 'abcd', NULL])[1 + g % 3],
               CASE WHEN g % 7 = 0 THEN 'NaN'::float8 ELSE g / 4.0 END,
               (g % 5) + 0.01,
               CASE g % 4 WHEN 0 THEN 'infinity' WHEN 1 THEN '-infinity' ELSE date '2024-01-01' + g END,
               (ARRAY['abcde', 'abc', 'x'])[1 + g % 3]
        FROM generate_series(1, 600) g;
        ANALYZE;
        """;

    /// <summary>(column, operator, value); psql's count comes from the same literal.</summary>
    private static readonly (string Column, string Op, string Value)[] Cases =
    [
        ("price", "=", "0.1"), ("price", ">", "0.2"), ("price", "<=", "0.3"), ("price", "!=", "1.5"),
        ("p", ">", "low"), ("p", "<", "high"), ("p", "=", "mid"), ("p", ">=", "mid"),
        ("wide", "=", "12345678901234567890123456789.5"), ("wide", ">", "12345678901234567890123456789.4"),
        ("at", ">=", "2024-03-31 02:30:00+02"), ("at", "<", "2024-03-31T01:00:00Z"), ("at", "=", "2024-03-31 03:30:00+03:30"),
        ("name", "LIKE", @"a\%b"), ("name", "LIKE", "a_b"), ("name", "ILIKE", @"A\%%"), ("name", "LIKE", @"a\\b"), ("name", "=", @"a\b"),
        ("code", "=", "ab"), ("code", "=", "ab  "), ("ratio", "=", "NaN"), ("ratio", ">", "100"),
        ("amount", "=", "1.01"), ("amount", "=", "1.005"), ("amount", ">=", "3"),
        ("day", "=", "infinity"), ("day", "<", "2024-02-01"), ("label", "=", "abcde"), ("label", "LIKE", "abc%"),
    ];

    [Fact]
    public async Task EveryOperatorAndType_CountsWhatPsqlCounts_InThePreview_TheJobTotal_AndTheRowsWritten()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres, "--Backfill:BatchSize=100");
        var failures = new List<string>();
        foreach (var (column, op, value) in Cases)
        {
            var psql = await PsqlCountAsync(s.SourceDb, column, op, value);
            var preview = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill/preview",
                new { table_name = "public.items", filters = new[] { Filter(column, op, value) } });
            if ((long?)preview["matching_rows"] != psql) failures.Add($"{column} {op} '{value}': preview {preview["matching_rows"]}, psql {psql}");
            // Each case selects something, except the one whose value lies between two stored values.
            if ((psql == 0) != (value == "1.005")) failures.Add($"{column} {op} '{value}': psql counts {psql}");
        }
        Assert.Empty(failures);

        // Jobs: total_record and the rows written agree with psql too.
        (string Column, string Op, string Value)[][] jobs =
        [
            [("price", "=", "0.1"), ("p", ">", "low")],
            [("wide", "=", "12345678901234567890123456789.5"), ("name", "LIKE", "a_b"), ("code", "=", "abcd")],
        ];
        foreach (var filters in jobs)
        {
            var id = await s.StartBackfillAsync("public.items", filters.Select(f => Filter(f.Column, f.Op, f.Value)).ToArray());
            var job = await s.Http.WaitForJobAsync(id, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
            var where = string.Join(" AND ", filters.Select(f => $"{f.Column} {f.Op} {Literal(f.Value)}"));
            var expected = await PostgresServer.ScalarAsync<long>(s.SourceDb, $"SELECT count(*) FROM items WHERE {where}");
            Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
            Assert.True(expected > 0);
            Assert.Equal(expected, (long)job["total_record"]!);
            Assert.Equal(expected, (long)job["count_record"]!);
            // The destination's enum column is text, so its rows are picked by the ids psql selects in the source.
            var ids = await PostgresServer.ScalarAsync<string>(s.SourceDb, $"SELECT string_agg(id::text, ',') FROM items WHERE {where}");
            Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "items", where),
                await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "items", $"id IN ({ids})"));
        }
    }

    private static Task<long> PsqlCountAsync(string db, string column, string op, string value) =>
        PostgresServer.ScalarAsync<long>(db, $"SELECT count(*) FROM items WHERE {column} {op} {Literal(value)}");

    private static string Literal(string value) => "'" + value.Replace("'", "''") + "'";
}
