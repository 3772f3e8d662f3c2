using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;

namespace BackfillStudio.Tests.Jobs;

/// <summary>How a job's matching rows are cut into chunks: key bounds from a sample of them, or from every key when the sample is too small.</summary>
public sealed class ChunkPlanTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task KeyRanges_CoverEveryMatchingRowOnce_InAboutEqualParts_FromASampleOrFromEveryKey()
    {
        var db = await pg.CreateDatabaseAsync("plan");
        await PostgresServer.ExecuteAsync(db, """
            CREATE TABLE readings (id bigint PRIMARY KEY, note text);
            INSERT INTO readings SELECT g, md5(g::text) FROM generate_series(1, 400000) g;
            ANALYZE readings;
            """);
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        var table = (await PostgresCatalog.FindTableAsync(connection, "public.readings", CancellationToken.None))!;
        var filter = FilterPredicate.Build(table, [new BackfillFilter("id", ">", "100000")]);
        const long total = 300_000;

        // A sample of one row cannot be cut in four: the plan counts every key, exactly.
        var exact = await JobChunks.PlanAsync(connection, table, filter, total, 4, sampleRows: 1, CancellationToken.None);
        Assert.Equal(["175000", "250000", "325000"], exact.Take(3).Select(r => r.UpTo!.Single()));
        await AssertCoverAsync(db, exact);

        var sampled = await JobChunks.PlanAsync(connection, table, filter, total, 4, JobChunks.SampleRows, CancellationToken.None);
        var rows = await AssertCoverAsync(db, sampled);
        // Bounds from a sample of pages land near the quarters, not on them.
        Assert.All(rows, n => Assert.InRange(n, total / 4 / 2, total / 4 * 3 / 2));
    }

    /// <summary>Asserts the ranges follow each other from an open start to an open end and hold every matching row; returns each one's rows.</summary>
    private static async Task<List<long>> AssertCoverAsync(string db, IReadOnlyList<ChunkRange> ranges)
    {
        Assert.Equal(4, ranges.Count);
        Assert.Null(ranges[0].After);
        Assert.Null(ranges[^1].UpTo);
        for (var i = 1; i < ranges.Count; i++) Assert.Equal(ranges[i - 1].UpTo, ranges[i].After);
        var rows = new List<long>();
        foreach (var range in ranges)
        {
            var lower = range.After is { } after ? $" AND id > {long.Parse(after.Single())}" : "";
            var upper = range.UpTo is { } upTo ? $" AND id <= {long.Parse(upTo.Single())}" : "";
            rows.Add(await PostgresServer.ScalarAsync<long>(db, $"SELECT count(*) FROM readings WHERE id > 100000{lower}{upper}"));
        }
        Assert.Equal(300_000L, rows.Sum());
        return rows;
    }
}
