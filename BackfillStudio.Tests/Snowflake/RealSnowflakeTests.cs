using System.Text.Json.Nodes;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Destinations.Snowflake;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Snowflake;

/// <summary>Runs only when a real account is configured (see README, "Testing against a real Snowflake account").</summary>
public sealed class RealSnowflakeFactAttribute : FactAttribute
{
    public RealSnowflakeFactAttribute()
    {
        if (RealSnowflakeTests.Config() is null)
            Skip = "Set SNOWFLAKE_TEST_ACCOUNT, SNOWFLAKE_TEST_USER, SNOWFLAKE_TEST_PRIVATE_KEY_PATH, SNOWFLAKE_TEST_WAREHOUSE, "
                + "SNOWFLAKE_TEST_DATABASE and SNOWFLAKE_TEST_SCHEMA to run this test against a real Snowflake account.";
    }
}

public sealed class RealSnowflakeTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    public static JsonObject? Config()
    {
        string? Env(string name) => Environment.GetEnvironmentVariable($"SNOWFLAKE_TEST_{name}") is { Length: > 0 } v ? v : null;
        if (Env("ACCOUNT") is not { } account || Env("USER") is not { } user || Env("PRIVATE_KEY_PATH") is not { } keyPath
            || Env("WAREHOUSE") is not { } warehouse || Env("DATABASE") is not { } database || Env("SCHEMA") is not { } schema)
            return null;
        return new JsonObject
        {
            ["account"] = account, ["user"] = user, ["private_key"] = File.ReadAllText(keyPath),
            ["private_key_passphrase"] = Env("PRIVATE_KEY_PASSPHRASE"), ["warehouse"] = warehouse, ["database"] = database,
            ["schema"] = schema, ["role"] = Env("ROLE"),
        };
    }

    [RealSnowflakeFact]
    public async Task FilteredBackfill_IntoARealAccount_IsExactAndIdempotent()
    {
        var table = $"backfill_test_{Guid.NewGuid():N}"[..30];
        var sourceSql = $"""
            CREATE TABLE {table} (id bigint PRIMARY KEY, name text, amount numeric(12,2), at timestamptz, doc jsonb);
            INSERT INTO {table} SELECT g, 'n' || g, g / 3.0, timestamptz '2024-01-01 00:00+00' + g * interval '1 hour', jsonb_build_object('g', g)
            FROM generate_series(1, 3000) g;
            """;
        await using var s = await Scenario.CreateAsync(pg, sourceSql, [$"public.{table}"], Config()!, "--Backfill:BatchSize=1000");
        var settings = (SnowflakeDestinationSettings)DestinationTypes.Parse("snowflake", Config()!, new ValidationErrors())!;
        using var http = new HttpClient();
        using var client = new SnowflakeSqlApiClient(http, settings, TimeProvider.System);
        var target = $"{SnowflakeSql.Ident(settings.Schema)}.{SnowflakeSql.Ident(table)}";
        try
        {
            for (var run = 0; run < 2; run++)
            {
                var jobId = await s.StartBackfillAsync($"public.{table}", Scenario.Filter("id", "<=", 2500));
                var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(10), "COMPLETED", "FAILED");
                Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
            }
            var result = await client.ExecuteAsync($"SELECT COUNT(*), SUM({SnowflakeSql.Ident("amount")}) FROM {target}", null, CancellationToken.None);
            Assert.Equal("2500", result.Rows[0][0]);
            var expectedSum = await PostgresServer.ScalarAsync<decimal>(s.SourceDb, $"SELECT sum(amount) FROM {table} WHERE id <= 2500");
            Assert.Equal(expectedSum, decimal.Parse(result.Rows[0][1]!, System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            await client.ExecuteAsync($"DROP TABLE IF EXISTS {target}", null, CancellationToken.None);
        }
    }
}
