using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Destinations.Snowflake;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Tests.Engine;
using BackfillStudio.Tests.Infrastructure;
using BackfillStudio.TestSupport.Snowflake;

namespace BackfillStudio.Tests.Snowflake;

/// <summary>Real PostgreSQL source → the Snowflake destination → the SQL API emulator, compared row by row.</summary>
public sealed class SnowflakeBackfillTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private const string EventsSql = """
        CREATE TABLE events (at timestamp NOT NULL, kind text, amount numeric(10,2));
        INSERT INTO events SELECT timestamp '2024-01-01' + g * interval '1 minute', (ARRAY['click','view','buy'])[1 + g % 3], g % 50
        FROM generate_series(1, 6000) g;
        ANALYZE;
        """;

    private const string ReadingsSql = """
        CREATE TABLE readings (id bigint PRIMARY KEY, sensor text NOT NULL, value numeric(12,3));
        INSERT INTO readings SELECT g, 'sensor-' || g % 40, g / 7.0 FROM generate_series(1, 30000) g;
        ANALYZE;
        """;

    [Fact]
    public async Task AllTypes_ArriveRowByRow_AndARerunOverlappingItChangesNothing()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, TestData.AllTypes, ["public.all_types"], account.Config(), "--Backfill:BatchSize=1000");

        var all = await s.StartBackfillAsync("public.all_types");
        await ExpectCompletedAsync(s, all, 2500);
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "all_types");
        Assert.Equal(expected, await account.ContentsAsync(s.SourceDb, "all_types"));

        var overlap = await s.StartBackfillAsync("public.all_types", Scenario.Filter("id", "<=", 1500), Scenario.Filter("c_bool", "=", true));
        await ExpectCompletedAsync(s, overlap, 500);
        Assert.Equal(expected, await account.ContentsAsync(s.SourceDb, "all_types"));

        Assert.True(0 == account.Scalar("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'all_types__backfill_stage%'"),
            "a staging table outlived its job");
        var requests = account.Emulator.Requests.Where(r => r.Method == "POST").ToList();
        Assert.All(requests, r =>
        {
            Assert.True(Guid.TryParse(r.RequestId, out _));
            Assert.Equal("KEYPAIR_JWT", r.Headers.GetValueOrDefault("X-Snowflake-Authorization-Token-Type"));
            Assert.False(string.IsNullOrEmpty(r.Headers.GetValueOrDefault("User-Agent")));
        });
        Assert.Equal(requests.Count, requests.Select(r => r.RequestId).Distinct().Count());
    }

    private const string EdgeDatesSql = """
        CREATE TABLE edges (id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, t time, n numeric(38,10), free numeric);
        INSERT INTO edges VALUES
          (1, '0001-01-01', '0001-01-01 00:00:00', '2262-04-12 00:00:00+00', '23:59:59.999999', 123456789012345678.0123456789, 'NaN'),
          (2, '9999-12-31', '9999-12-31 23:59:59.999999', '2500-06-30 12:34:56.123456+00', '00:00:00', -0.0000000001, '1e-60'),
          (3, '1969-12-31', '1677-09-21 00:12:43.145224', '1970-01-01 00:00:00+00', '12:00:00', 0, '-Infinity');
        CREATE TABLE unbounded (id int PRIMARY KEY, valid_until date);
        INSERT INTO unbounded VALUES (1, '2030-01-01'), (2, 'infinity');
        CREATE TYPE level AS ENUM ('low', 'mid', 'high');
        CREATE TYPE pair AS (a int, b text);
        CREATE TABLE shapes (id int PRIMARY KEY, iv interval, addr inet, r int4range, p pair, lv level,
                             va varchar(20)[], ca char(3)[], j json);
        INSERT INTO shapes VALUES
          (1, '1 year 2 mons -3 days 04:05:06.789', '192.168.0.1/24', '[1,5)', ROW(1, 'x,"y"'), 'high',
              ARRAY['a,b', 'q"uote', NULL]::varchar(20)[], ARRAY['ab', NULL]::char(3)[], '{"a": [1, 2.50], "b": {"c": null}}'),
          (2, '-178000000 years', '::1', 'empty', ROW(NULL, NULL), 'low', '{}', '{}', '[]');
        CREATE TABLE documents (id int PRIMARY KEY, body json);
        INSERT INTO documents VALUES (1, '{"k": 1}'), (2, '{"outer": {"k": 1, "k": 2}}');
        CREATE TABLE figures (id int PRIMARY KEY, body jsonb);
        INSERT INTO figures VALUES (1, '{"n": 12345678901234567890123456789012345678, "x": 1.5e-50}'),
                                   (2, '{"a": [1, 1234567890123456789012345678901234567890.5]}');
        """;

    [Fact]
    public async Task DatesAndTimestampsAcrossTheirRange_ArriveExactly_AndValuesSnowflakeCannotHold_FailTheJobByName()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, EdgeDatesSql, ["public.edges", "public.unbounded", "public.shapes", "public.documents", "public.figures"],
            account.Config());

        await ExpectCompletedAsync(s, await s.StartBackfillAsync("public.edges"), 3);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "edges"), await account.ContentsAsync(s.SourceDb, "edges"));

        var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.unbounded"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)job["status"]!);
        var message = (string)job["error_message"]!;
        Assert.Contains("Destination 'snow'", message);
        Assert.Contains("public.unbounded", message);
        Assert.Contains("\"valid_until\"", message);
        Assert.Contains("'infinity'", message);
        Assert.Equal(0L, (long)job["count_record"]!);

        // Types without a Snowflake counterpart arrive as PostgreSQL's text; arrays and json as ARRAY and VARIANT.
        await ExpectCompletedAsync(s, await s.StartBackfillAsync("public.shapes"), 2);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "shapes"), await account.ContentsAsync(s.SourceDb, "shapes"));

        var duplicates = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.documents"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)duplicates["status"]!);
        Assert.Contains("\"body\"", (string)duplicates["error_message"]!);
        Assert.Contains("has the key \"k\" twice", (string)duplicates["error_message"]!);

        // PARSE_JSON keeps a number of more than 38 digits only as a DOUBLE, which would round it.
        var rounded = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.figures"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)rounded["status"]!);
        Assert.Contains("\"body\"", (string)rounded["error_message"]!);
        Assert.Contains("holds the number 1234567890123456789012345678901234567890.5", (string)rounded["error_message"]!);
    }

    [Fact]
    public async Task PartitionedTableWithoutPrimaryKey_AppendsEveryPartitionsRowsOnce()
    {
        const string sql = """
            CREATE TABLE visits (at date NOT NULL, page text) PARTITION BY RANGE (at);
            CREATE TABLE visits_a PARTITION OF visits FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
            CREATE TABLE visits_b PARTITION OF visits FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
            INSERT INTO visits SELECT date '2024-01-01' + g % 366, 'page ' || g FROM generate_series(1, 4000) g;
            ANALYZE;
            """;
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, sql, ["public.visits"], account.Config(), "--Backfill:BatchSize=700");
        await ExpectCompletedAsync(s, await s.StartBackfillAsync("public.visits"), 4000);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "visits"), await account.ContentsAsync(s.SourceDb, "visits"));
    }

    [Fact]
    public async Task FilteredTableWithoutPrimaryKey_AppendsEachBatchOnce_EvenWhenTheCommitAnswerIsLost()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, EventsSql, ["public.events"], account.Config(), "--Backfill:BatchSize=500");
        // The transaction that appends a batch runs, then the answer is lost: the retry must not append it again.
        account.Emulator.Inject(sql => sql.StartsWith("BEGIN", StringComparison.Ordinal), new EmulatorFault.ServerErrorAfterExecuting(), times: 2);

        var job = await s.StartBackfillAsync("public.events", Scenario.Filter("kind", "=", "click"), Scenario.Filter("amount", ">=", 10));
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "events", "kind = 'click' AND amount >= 10");
        await ExpectCompletedAsync(s, job, expected.Count);

        Assert.Equal(expected, await account.ContentsAsync(s.SourceDb, "events"));
        var retried = account.Emulator.Requests.Where(r => r.Retry).Select(r => r.RequestId!).Distinct().ToList();
        Assert.Equal(2, retried.Count);
        Assert.All(retried, id => Assert.Equal(1, account.Emulator.ExecutionCount(id)));
    }

    /// <summary>
    /// A stage INSERT whose request was resent while Snowflake still ran it runs twice (Snowflake's requestId only guards
    /// an execution that succeeded): its rows were staged twice and the append wrote them twice, in a job that said
    /// COMPLETED. The batch's transaction now checks the stage holds exactly the batch: it writes nothing, and the job
    /// retries from its checkpoint, to every row once.
    /// </summary>
    [Fact]
    public async Task AStageInsertThatRanTwice_IsCaughtBeforeTheBatchIsWritten_AndRetriedToEveryRowOnce()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, EventsSql, ["public.events"], account.Config(), "--Backfill:BatchSize=500");
        var stageInserts = 0;
        account.Emulator.Inject(sql => sql.StartsWith("INSERT INTO", StringComparison.Ordinal) && sql.Contains("__backfill_stage", StringComparison.Ordinal)
                                       && Interlocked.Increment(ref stageInserts) == 3, new EmulatorFault.ServerErrorWhileExecuting());

        var job = await s.StartBackfillAsync("public.events");
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "events");
        await ExpectCompletedAsync(s, job, expected.Count);

        Assert.Equal(expected, await account.ContentsAsync(s.SourceDb, "events"));
        // The fault was played: a stage INSERT resent (retry=true) ran twice.
        var resent = account.Emulator.Requests.Where(r => r.Retry && r.Statement?.StartsWith("INSERT INTO", StringComparison.Ordinal) == true)
            .Select(r => r.RequestId!).Distinct().ToList();
        Assert.Contains(resent, id => account.Emulator.ExecutionCount(id) == 2);
    }

    [Fact]
    public async Task ThrottlingAsyncAnswersAndDroppedConnections_AreRetried_ToExactContents()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, ReadingsSql, ["public.readings"], account.Config(), "--Backfill:BatchSize=5000");
        var emulator = account.Emulator;
        emulator.Inject(sql => sql.StartsWith("INSERT", StringComparison.Ordinal), new EmulatorFault.Throttle(), times: 2);
        emulator.Inject(sql => sql.StartsWith("BEGIN", StringComparison.Ordinal), new EmulatorFault.Unavailable());
        emulator.Inject(sql => sql.StartsWith("BEGIN", StringComparison.Ordinal), new EmulatorFault.Async(PollsBeforeDone: 3), times: 2);
        emulator.Inject(sql => sql.StartsWith("DELETE", StringComparison.Ordinal), new EmulatorFault.DropConnection());
        // Answers lost after the statement ran: the retries must not run it again (a stage INSERT twice would duplicate rows).
        emulator.Inject(sql => sql.StartsWith("INSERT", StringComparison.Ordinal), new EmulatorFault.DropConnectionAfterExecuting());
        emulator.Inject(sql => sql.StartsWith("BEGIN", StringComparison.Ordinal), new EmulatorFault.ServerErrorAfterExecuting());

        var job = await s.StartBackfillAsync("public.readings", Scenario.Filter("id", ">", 1000));
        await ExpectCompletedAsync(s, job, 29000);

        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings", "id > 1000");
        Assert.Equal(expected, await account.ContentsAsync(s.SourceDb, "readings"));
        Assert.Contains(emulator.Requests, r => r.Method == "GET" && r.Path.StartsWith("/api/v2/statements/", StringComparison.Ordinal));
        Assert.Contains(emulator.Requests, r => r.Retry && r.Statement?.StartsWith("DELETE", StringComparison.Ordinal) == true);
        var retried = emulator.Requests.Where(r => r.Retry && r.Statement?.StartsWith("INSERT", StringComparison.Ordinal) == true).Select(r => r.RequestId!).Distinct().ToList();
        Assert.NotEmpty(retried);
        Assert.All(retried, id => Assert.Equal(1, emulator.ExecutionCount(id)));
    }

    [Fact]
    public async Task JobSplitIntoChunks_MergesEachChunksRowsOnce()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, ReadingsSql, ["public.readings"], account.Config(), "--Backfill:BatchSize=2000",
            "--Backfill:MinChunkRows=1000", "--Backfill:MaxConcurrentJobs=3");
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.readings", filters = new[] { Scenario.Filter("id", ">", 1000) }, parallel_chunks = 3 });
        var job = await ExpectCompletedAsync(s, (int)created["id"]!, 29000);

        Assert.Equal(3, job["chunks"]!.AsArray().Count);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings", "id > 1000"), await account.ContentsAsync(s.SourceDb, "readings"));
    }

    [Fact]
    public async Task SqlError_FailsTheJob_WithSnowflakesMessageAndSqlState()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, ReadingsSql, ["public.readings"], account.Config(), "--Backfill:BatchSize=5000");
        account.Emulator.Inject(sql => sql.StartsWith("BEGIN", StringComparison.Ordinal),
            new EmulatorFault.SqlError("Numeric value 'abc' is not recognized", "22018", "100038"));

        var jobId = await s.StartBackfillAsync("public.readings");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED");

        Assert.Equal("FAILED", (string)job["status"]!);
        var error = (string)job["error_message"]!;
        Assert.Contains("Destination 'snow'", error);
        Assert.Contains("Numeric value 'abc' is not recognized", error);
        Assert.Contains("22018", error);
        Assert.Equal(0L, (long)job["count_record"]!);
    }

    [Fact]
    public async Task TestConnection_ReportsTheVersion_OrTheExactReason_WithoutSecrets()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, ReadingsSql, ["public.readings"], account.Config(), "--Backfill:EngineEnabled=false");

        var (_, ok) = await s.Http.PostJsonAsync($"/api/v1/destinations/{s.DestinationIds[0]}/test");
        Assert.True((bool)ok["success"]!, ok.ToJsonString());
        Assert.Equal("Snowflake 9.99.0", (string)ok["server_version"]!);

        using var otherKey = RSA.Create(2048);
        var unregisteredKey = otherKey.ExportPkcs8PrivateKeyPem();
        var (_, badKey) = await s.Http.PostJsonAsync("/api/v1/destinations/test", new { name = "x", type = "snowflake", config = account.Config(unregisteredKey) });
        Assert.False((bool)badKey["success"]!);
        Assert.Contains("JWT token is invalid", (string)badKey["error"]!);
        Assert.DoesNotContain(unregisteredKey.Split('\n')[1], badKey.ToJsonString());

        var (_, noWarehouse) = await s.Http.PostJsonAsync($"/api/v1/destinations/{s.DestinationIds[0]}/test",
            new { name = "snow", type = "snowflake", config = account.Config(warehouse: "MISSING_WH") });
        Assert.False((bool)noWarehouse["success"]!);
        Assert.Contains("No active warehouse", (string)noWarehouse["error"]!);

        var (invalid, problem) = await s.Http.PostJsonAsync("/api/v1/destinations",
            new { name = "y", type = "snowflake", config = new JsonObject { ["account"] = "a", ["user"] = "u", ["private_key"] = "not a key", ["warehouse"] = "w", ["database"] = "d", ["schema"] = "s" } });
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, invalid);
        Assert.Contains("PEM", problem["errors"]!["config.private_key"]![0]!.ToString());
    }

    [Fact]
    public async Task CancelledCaller_CancelsTheStatementRunningInSnowflake()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        account.Emulator.Inject(sql => sql.Contains("long_running", StringComparison.Ordinal), new EmulatorFault.Hang());
        using var http = new HttpClient();
        using var client = new SnowflakeSqlApiClient(http, Settings(account), TimeProvider.System);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ExecuteAsync("SELECT 'long_running'", null, cts.Token));

        Assert.Single(account.Emulator.CancelledHandles);
    }

    [Fact]
    public async Task Tokens_AreRenewedBeforeTheyExpire_AndAfterA401()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        var clock = new ManualClock { Now = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(58) };
        using var http = new HttpClient();
        using var client = new SnowflakeSqlApiClient(http, Settings(account), clock);

        await client.ExecuteAsync("SELECT 1", null, CancellationToken.None);
        clock.Now = DateTimeOffset.UtcNow;
        await client.ExecuteAsync("SELECT 2", null, CancellationToken.None);
        clock.Now += TimeSpan.FromSeconds(1);
        account.Emulator.Inject(sql => sql == "SELECT 3", new EmulatorFault.Unauthorized());
        await client.ExecuteAsync("SELECT 3", null, CancellationToken.None);

        var tokens = account.Emulator.Requests.Select(r => r.Headers["Authorization"]).ToList();
        Assert.Equal(4, tokens.Count);
        Assert.NotEqual(tokens[0], tokens[1]);
        Assert.Equal(tokens[1], tokens[2]);
        Assert.NotEqual(tokens[2], tokens[3]);
    }

    /// <summary>
    /// A target made before the job: columns whose types hold every value (a wider NUMBER) are kept, a column it lacks is
    /// added, and one whose type would change values fails the job before it writes: Snowflake's MERGE would round the
    /// source's numeric(12,3) into a NUMBER(12,1).
    /// </summary>
    [Fact]
    public async Task ATargetMadeBefore_KeepsColumnsThatHoldTheValues_GainsMissingOnes_AndOneThatWouldRoundOrIsNamedInAnotherCaseFailsTheJob()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, ReadingsSql, ["public.readings"], account.Config(), "--Backfill:BatchSize=5000");
        using var http = new HttpClient();
        using var client = new SnowflakeSqlApiClient(http, Settings(account), TimeProvider.System);
        var target = $"\"{SnowflakeAccount.Schema}\".\"readings\"";
        async Task MakeTargetAsync(string columns)
        {
            await client.ExecuteAsync($"DROP TABLE IF EXISTS {target}", null, CancellationToken.None);
            await client.ExecuteAsync($"CREATE TABLE {target} ({columns})", null, CancellationToken.None);
        }

        await MakeTargetAsync("\"id\" NUMBER(38,0), \"sensor\" VARCHAR(100), \"value\" NUMBER(12,1)");
        var refused = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.readings"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)refused["status"]!);
        Assert.Contains($"The column value of {SnowflakeAccount.Schema}.readings in Snowflake has type", (string)refused["error_message"]!);
        Assert.Equal(0, account.Scalar($"SELECT count(*) FROM {target}"));

        // Made the usual way, unquoted: ID and SENSOR are not "id" and "sensor".
        await MakeTargetAsync("ID NUMBER(38,0), SENSOR VARCHAR, \"value\" NUMBER(20,3)");
        var apart = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.readings"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)apart["status"]!);
        Assert.Contains($"The table {SnowflakeAccount.Schema}.readings in Snowflake has a column ID where the job writes one named id", (string)apart["error_message"]!);
        Assert.Equal(0, account.Scalar($"SELECT count(*) FROM {target}"));
        Assert.Equal(3, account.Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'readings'"));

        await MakeTargetAsync("\"id\" NUMBER(38,0), \"value\" NUMBER(20,3)");
        await ExpectCompletedAsync(s, await s.StartBackfillAsync("public.readings"), 30000);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings"), await account.ContentsAsync(s.SourceDb, "readings"));
    }

    [Fact]
    public async Task UpperIdentifierCase_NamesTheTargetAsUnquotedSnowflakeNamesRead()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        var config = account.Config();
        config["identifier_case"] = "upper";
        await using var s = await Scenario.CreateAsync(pg, ReadingsSql, ["public.readings"], config, "--Backfill:BatchSize=1000");

        var job = await s.StartBackfillAsync("public.readings", Scenario.Filter("id", "<=", 1500));
        await ExpectCompletedAsync(s, job, 1500);

        Assert.True(account.TableExists("READINGS"));
        Assert.False(account.TableExists("readings"));
        Assert.Equal(1500, account.Scalar($"SELECT count(\"ID\") FROM \"{SnowflakeAccount.Schema}\".\"READINGS\" WHERE \"SENSOR\" LIKE 'sensor-%'"));
        Assert.Equal(3, account.Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'READINGS' AND column_name IN ('ID', 'SENSOR', 'VALUE')"));
    }

    [Fact]
    public async Task KilledEngine_ResumesIntoSnowflake_ExactlyOnce()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, ReadingsSql + EventsSql, ["public.readings", "public.events"], account.Config(),
            "--Backfill:EngineEnabled=false");
        string[] engine = ["--Backfill:BatchSize=500", "--Backfill:LeaseSeconds=3", "--Backfill:PollIntervalSeconds=1"];
        // Slow MERGEs and appends down so the kill lands in the middle of both jobs.
        account.Emulator.Inject(sql => sql.StartsWith("MERGE", StringComparison.Ordinal) || sql.StartsWith("BEGIN", StringComparison.Ordinal),
            new EmulatorFault.Async(PollsBeforeDone: 1), times: 1000);
        using var doomed = AppProcess.Start(s.ConfigDb, [.. engine, "--Logging:LogLevel:Default=Warning"]);
        var keyed = await s.StartBackfillAsync("public.readings");
        var heap = await s.StartBackfillAsync("public.events");
        await s.Http.WaitUntilAsync(keyed, Timeout, j => (long)j["count_record"]! >= 3000, "keyed job progress");
        await s.Http.WaitUntilAsync(heap, Timeout, j => (long)j["count_record"]! >= 1000, "heap job progress");

        doomed.Kill();
        var interrupted = await s.Http.GetJobAsync(keyed);
        Assert.True((long)interrupted["count_record"]! < 30000, "the job finished before the kill; nothing was tested");

        await using var survivor = await s.StartPeerAsync(engine);
        await ExpectCompletedAsync(s, keyed, 30000);
        await ExpectCompletedAsync(s, heap, 6000);
        foreach (var table in new[] { "readings", "events" })
            Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", table), await account.ContentsAsync(s.SourceDb, table));
    }

    [Fact]
    public async Task CancelDuringABatch_FinishesThatBatch_AndStops()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, ReadingsSql, ["public.readings"], account.Config(), "--Backfill:BatchSize=1000");
        account.Emulator.Inject(sql => sql.StartsWith("BEGIN", StringComparison.Ordinal), new EmulatorFault.Async(PollsBeforeDone: 4), times: 1000);

        var jobId = await s.StartBackfillAsync("public.readings");
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! >= 2000, "progress");
        await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/cancel");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED", "COMPLETED", "FAILED");

        Assert.Equal("CANCELLED", (string)job["status"]!);
        var count = (long)job["count_record"]!;
        Assert.InRange(count, 2000, 29000);
        Assert.Equal(count, account.Scalar($"SELECT count(*) FROM \"{SnowflakeAccount.Schema}\".readings"));
    }

    /// <summary>
    /// An older claim's write after a newer claim's is refused. The newer claim's prepare alone fences the older one off:
    /// an engine that lost the job during its first batch may be taken over by a claim that splits the job, which writes
    /// nothing under the job's own id (its chunks write under theirs).
    /// </summary>
    [Fact]
    public async Task AWriteOfAnOlderClaim_AfterANewerClaimPreparedOrWrote_ChangesNothing_AndStopsTheStaleWriter()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'first' FROM generate_series(1, 500) g;",
            ["public.items"], account.Config());
        var jobId = await s.StartBackfillAsync("public.items");
        await ExpectCompletedAsync(s, jobId, 500);
        var race = await ClaimRace.ReadAsync(s, jobId, "public.items", "UPDATE items SET v = 'newer'");
        var destination = race.Plan.Destinations.Single().Settings;
        var before = await account.ContentsAsync(s.SourceDb, "items");

        await using (var stalled = race.Writer(destination, 1))
        {
            await stalled.PrepareAsync(CancellationToken.None);
            await using (var successor = race.Writer(destination, 2))
                await successor.PrepareAsync(CancellationToken.None);
            await Assert.ThrowsAsync<StaleClaimException>(() => stalled.WriteAsync(race.Newer, CancellationToken.None));
        }
        Assert.Equal(before, await account.ContentsAsync(s.SourceDb, "items"));

        await using (var successor = race.Writer(destination, 4))
        {
            await successor.PrepareAsync(CancellationToken.None);
            await successor.WriteAsync(race.Newer, CancellationToken.None);
        }
        await using (var stalled = race.Writer(destination, 3))
        {
            await stalled.PrepareAsync(CancellationToken.None);
            await Assert.ThrowsAsync<StaleClaimException>(() => stalled.WriteAsync(race.Stale, CancellationToken.None));
        }
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "items"), await account.ContentsAsync(s.SourceDb, "items"));
    }

    /// <summary>
    /// A table without a key is appended batch by batch, each once per job: a progress row, moved in the batch's
    /// transaction, says how far the job's appends reach. A batch written again (a resume from an older checkpoint: the
    /// next batch is written before the last one's checkpoint is stored) is skipped, and must not move the progress row
    /// back, or the batch after it would be appended twice.
    /// </summary>
    [Fact]
    public async Task BatchesOfATableWithoutAKey_WrittenAgainAfterTheJobWroteThem_AreNotAppendedTwice()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, "CREATE TABLE heap (id int NOT NULL, v text); INSERT INTO heap SELECT g, 'v' || g FROM generate_series(1, 3000) g; ANALYZE heap;",
            ["public.heap"], account.Config(), "--Backfill:BatchSize=1000");
        var jobId = await s.StartBackfillAsync("public.heap");
        await ExpectCompletedAsync(s, jobId, 3000);
        // The source is not changed between the race's two reads: only its plan and writers are used.
        var race = await ClaimRace.ReadAsync(s, jobId, "public.heap", "SELECT 1");
        await using var source = await race.Plan.OpenSourceAsync("progress test", CancellationToken.None);
        await using var reader = source.Reader(race.Table, FilterPredicate.Build(race.Table, []), new BatchLimits(1000, long.MaxValue));
        using var first = (await reader.ReadAsync(ResumeCursor.Start, CancellationToken.None))!;
        using var second = (await reader.ReadAsync(first.Next, CancellationToken.None))!;
        Assert.True(first.RowCount > 0 && second.RowCount > 0);

        await using (var again = race.Writer(race.Plan.Destinations.Single().Settings, 2))
        {
            await again.PrepareAsync(CancellationToken.None);
            await again.WriteAsync(first, CancellationToken.None);
            await again.WriteAsync(second, CancellationToken.None);
        }

        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "heap"), await account.ContentsAsync(s.SourceDb, "heap"));
    }

    [Fact]
    public async Task SilentSnowflake_RequeuesTheJobWithTheReason_AndItCompletesExactlyOnceWhenItAnswersAgain()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var proxy = new TcpProxy(account.Emulator.BaseUrl.Host, account.Emulator.BaseUrl.Port);
        var config = account.Config();
        config["base_url"] = $"http://127.0.0.1:{proxy.Port}/";
        await using var s = await Scenario.CreateAsync(pg, ReadingsSql, ["public.readings"], config,
            "--Backfill:BatchSize=1000", "--Backfill:StallTimeoutSeconds=3");
        var jobId = await s.StartBackfillAsync("public.readings");
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! >= 3000, "progress through the proxy");

        proxy.Blackhole();
        var requeued = await s.Http.WaitUntilAsync(jobId, Timeout, j => j["error_message"] is not null, "the stalled job's requeue");
        var reason = (string)requeued["error_message"]!;
        Assert.StartsWith("Destination 'snow': Snowflake sent nothing", reason);
        Assert.Contains("StallTimeoutSeconds", reason);

        proxy.Heal();
        await ExpectCompletedAsync(s, jobId, 30000);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings"), await account.ContentsAsync(s.SourceDb, "readings"));
    }

    private static SnowflakeDestinationSettings Settings(SnowflakeAccount account) =>
        (SnowflakeDestinationSettings)DestinationTypes.Parse("snowflake", account.Config(), new ValidationErrors())!;

    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public async Task ABatchIsStagedInRequestsOfAtMostOneMegabyte_SeveralAtOnce()
    {
        const string sql = """
            CREATE TABLE notes (id bigint PRIMARY KEY, body text);
            INSERT INTO notes SELECT g, repeat(md5(g::text), 6) || ' ü' FROM generate_series(1, 20000) g;
            """;
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, sql, ["public.notes"], account.Config(), "--Backfill:BatchSize=20000");
        // Each stage INSERT takes a while, as in a warehouse, so requests sent together are answered together (answered
        // at once, they may not overlap on a loaded machine).
        account.Emulator.Inject(statement => statement.Contains("notes__backfill_stage", StringComparison.OrdinalIgnoreCase) && statement.StartsWith("INSERT", StringComparison.Ordinal),
            new EmulatorFault.Slow(TimeSpan.FromMilliseconds(300)), times: 100);
        await ExpectCompletedAsync(s, await s.StartBackfillAsync("public.notes"), 20000);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "notes"), await account.ContentsAsync(s.SourceDb, "notes"));

        // About 4.2 MB of values, packed up to Snowflake's documented 1 MB per statement (bound values included): full requests, one partial at most.
        var inserts = account.Emulator.Requests.Where(r => r.Method == "POST" && r.Statement?.StartsWith("INSERT INTO", StringComparison.Ordinal) == true
            && r.Statement.Contains("notes__backfill_stage", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.All(inserts, r => Assert.InRange(r.TextBytes, 1, SnowflakeDestinationWriter.MaxRequestBytes));
        Assert.True(inserts.Count <= 1 + inserts.Sum(r => r.TextBytes) / SnowflakeDestinationWriter.MaxRequestBytes && inserts.Count >= 4,
            string.Join(", ", inserts.Select(r => r.TextBytes)));
        Assert.InRange(account.Emulator.PeakConcurrentRequests, 2, SnowflakeDestinationWriter.RequestsInFlight);
    }

    private static async Task<JsonObject> ExpectCompletedAsync(Scenario s, int jobId, long rows)
    {
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(rows, (long)job["count_record"]!);
        return job;
    }
}
