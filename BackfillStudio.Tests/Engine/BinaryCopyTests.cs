using BackfillStudio.Tests.Infrastructure;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Engine;

/// <summary>
/// A job whose destinations are all PostgreSQL passes the source's binary COPY output on undecoded: exactly once, through
/// the direct COPY and the merge alike, with filter values that never become SQL, and only where the target's types allow.
/// </summary>
public sealed class BinaryCopyTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private const string Passed = "binary COPY passed through";
    /// <summary>The job runner's log says which way the rows went.</summary>
    internal const string RunnerLog = "--Logging:LogLevel:BackfillStudio.Engine.Jobs.JobRunner=Information";
    private const string Rows = "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM {0} t";

    private static async Task AssertSameRowsAsync(Scenario s, string table)
    {
        Assert.Equal(await PostgresServer.ScalarAsync<string>(s.SourceDb, string.Format(Rows, $"public.{table}")),
            await PostgresServer.ScalarAsync<string>(s.DestinationDb, string.Format(Rows, $"copy.{table}")));
    }

    private static async Task<System.Text.Json.Nodes.JsonObject> RunAsync(Scenario s, string table, params object[] filters)
    {
        var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync(table, filters), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        return job;
    }

    [Fact]
    public async Task AKeyInsertedAfterTheProbe_RollsTheDirectCopyBack_AndTheBatchIsMerged_Exactly()
    {
        const string sql = """
            CREATE TABLE items (id bigint PRIMARY KEY, label text NOT NULL);
            INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g;
            ANALYZE;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.items"], DestinationKinds.Postgres, "--Backfill:BatchSize=500", RunnerLog);
        // Another writer puts its own row 750 in as the first copy of row 750 arrives (a trigger after the row; the batch's
        // key-range probe found the range empty): the direct COPY fails on the key, and the batch must be merged, not lost or failed.
        // The trigger's row is part of the refused transaction, so it goes with it; a sequence is not, and counts the tries.
        await PostgresServer.ExecuteAsync(s.DestinationDb, """
            CREATE SCHEMA IF NOT EXISTS copy;
            CREATE TABLE copy.items (id bigint PRIMARY KEY, label text NOT NULL);
            CREATE SEQUENCE copy.tries;
            CREATE FUNCTION copy.race() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF pg_trigger_depth() = 1 AND NEW.id = 750 THEN
                    IF nextval('copy.tries') = 1 THEN
                        INSERT INTO copy.items VALUES (750, 'written by someone else');
                    END IF;
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER race AFTER INSERT ON copy.items FOR EACH ROW EXECUTE FUNCTION copy.race();
            """);
        var logs = LogCapture.Attach(s.App);

        Assert.Equal(2000, (long)(await RunAsync(s, "public.items"))["count_record"]!);
        Assert.Contains(Passed, logs.Text);
        await AssertSameRowsAsync(s, "items");
        // Row 750 was inserted twice: refused in the direct COPY, then written by the merge.
        Assert.Equal(2, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT last_value FROM copy.tries"));
    }

    [Fact]
    public async Task RowsAlreadyInTheTarget_AreMergedThroughTheBinaryStage_AndATableWithoutKeyRecordsItsBatches_ExactlyOnce()
    {
        const string sql = """
            CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), placed timestamptz, tags text[]);
            INSERT INTO orders SELECT g, 'customer ' || g, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 minute', ARRAY['t' || g % 7]
            FROM generate_series(1, 5000) g;
            CREATE TABLE readings (sensor int, value float8, note text);
            INSERT INTO readings SELECT g % 13, g / 7.0, CASE WHEN g % 100 = 0 THEN NULL ELSE 'r' || g END FROM generate_series(1, 3000) g;
            ANALYZE;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.orders", "public.readings"], DestinationKinds.Postgres, "--Backfill:BatchSize=700", RunnerLog);
        var logs = LogCapture.Attach(s.App);

        Assert.Equal(5000, (long)(await RunAsync(s, "public.orders"))["count_record"]!);
        await AssertSameRowsAsync(s, "orders");
        Assert.Contains(Passed, logs.Text);

        // The second backfill finds its keys in the target: every batch goes through the stage and the upsert.
        await PostgresServer.ExecuteAsync(s.SourceDb, "UPDATE orders SET customer = customer || ' (moved)', tags = NULL WHERE id % 500 = 0");
        await PostgresServer.ExecuteAsync(s.DestinationDb, "DELETE FROM copy.orders WHERE id BETWEEN 1000 AND 1200");
        Assert.Equal(5000, (long)(await RunAsync(s, "public.orders"))["count_record"]!);
        await AssertSameRowsAsync(s, "orders");

        var readings = await RunAsync(s, "public.readings");
        Assert.Equal(3000, (long)readings["count_record"]!);
        await AssertSameRowsAsync(s, "readings");
        Assert.True(await PostgresServer.ScalarAsync<long>(s.ConfigDb,
            $"SELECT (resume_cursor->>'batches')::bigint FROM queue_backfill_data WHERE id = {(int)readings["id"]!}") > 1, "several block ranges");
    }

    [Fact]
    public async Task MoneyAndCatalogReferences_AreDecoded_SinceTheirBinaryFormsMeanOtherThingsInAnotherDatabase()
    {
        // money's binary form counts units of the source's lc_monetary; regtype's is an OID of the source's catalog.
        const string sql = """
            CREATE TABLE ledger (id int PRIMARY KEY, amount money, amounts money[], kind regtype);
            INSERT INTO ledger VALUES (1, 12.34, '{1.50,2}', 'integer'), (2, -0.01, NULL, 'text[]'), (3, NULL, '{}', NULL);
            """;
        await using var s = await CreateAsync(pg, sql, ["public.ledger"], DestinationKinds.Postgres, RunnerLog);
        var logs = LogCapture.Attach(s.App);
        Assert.Equal(3, (long)(await RunAsync(s, "public.ledger"))["count_record"]!);
        Assert.Contains("decoded rows", logs.Text);
        Assert.DoesNotContain(Passed, logs.Text);
        await AssertSameRowsAsync(s, "ledger");
    }

    /// <summary>
    /// xml's binary form is the parsed document printed anew, which leaves out a declaration of version 1.0 alone, and is
    /// read obeying its declared encoding: passed through, the first row arrived without its declaration (the stored texts
    /// differ, which row texts, printed anew too, do not show). Its rows are decoded, as the stored text.
    /// </summary>
    [Fact]
    public async Task Xml_IsDecoded_AndArrivesAsItsStoredText_WithItsDeclaration()
    {
        const string sql = """
            CREATE TABLE docs (id int PRIMARY KEY, d xml, many xml[]);
            INSERT INTO docs VALUES (1, CAST('<?xml version="1.0"?>' || E'\n' || '<a>1</a>' AS xml), NULL), (2, '<b/>', ARRAY['<c/>'::xml, CAST('<?xml version="1.0"?>' || E'\n' || '<e/>' AS xml)]), (3, NULL, NULL),
                (4, '<?xml version="1.0" standalone="yes"?><c/>', NULL), (5, '<?xml version="1.0" encoding="ISO-8859-1"?><d>é</d>', NULL);
            """;
        await using var s = await CreateAsync(pg, sql, ["public.docs"], DestinationKinds.Postgres, RunnerLog);
        var logs = LogCapture.Attach(s.App);
        Assert.Equal(5, (long)(await RunAsync(s, "public.docs"))["count_record"]!);
        Assert.Contains("decoded rows", logs.Text);
        Assert.DoesNotContain(Passed, logs.Text);
        const string texts = "SELECT string_agg(id || ':' || coalesce(d::text, 'null') || ':' || coalesce(many::text[]::text, 'null'), '|' ORDER BY id) FROM {0}";
        var source = await PostgresServer.ScalarAsync<string>(s.SourceDb, string.Format(texts, "public.docs"));
        Assert.StartsWith("1:<?xml version=\"1.0\"?>\n<a>1</a>:null|", source);
        Assert.Contains("<d>é</d>", source);
        Assert.Equal(source, await PostgresServer.ScalarAsync<string>(s.DestinationDb, string.Format(texts, "copy.docs")));
    }

    [Fact]
    public async Task FilterValues_ReachTheCopyAsValues_SoInjectionPayloadsSelectNothingAndChangeNothing()
    {
        const string sql = """
            CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, score int);
            INSERT INTO people SELECT g, 'person ' || g, g FROM generate_series(1, 300) g;
            INSERT INTO people VALUES (1001, 'O''Brien', 5), (1002, 'back\slash '') OR true --', 6), (1003, '%_', 7);
            """;
        await using var s = await CreateAsync(pg, sql, ["public.people"], DestinationKinds.Postgres, RunnerLog);
        var logs = LogCapture.Attach(s.App);
        string[] payloads =
        [
            "'; DROP TABLE people; --",
            "x') OR TRUE OR ('x",
            "x' || current_setting('server_version') || '",
            "') TO PROGRAM 'touch /tmp/backfill-pwned'; --",
        ];
        foreach (var payload in payloads)
            Assert.Equal(0, (long)(await RunAsync(s, "public.people", Filter("name", "=", payload)))["count_record"]!);

        Assert.Equal(1, (long)(await RunAsync(s, "public.people", Filter("name", "=", "O'Brien")))["count_record"]!);
        Assert.Equal(1, (long)(await RunAsync(s, "public.people", Filter("name", "=", "back\\slash ') OR true --")))["count_record"]!);
        Assert.Equal(1, (long)(await RunAsync(s, "public.people", Filter("name", "LIKE", "O'%")))["count_record"]!);
        Assert.Equal(10, (long)(await RunAsync(s, "public.people", Filter("name", "LIKE", "person 1_"), Filter("score", "<=", "19"),
            Filter("score", ">", "9")))["count_record"]!);
        Assert.Contains(Passed, logs.Text);

        Assert.Equal(303, await PostgresServer.ScalarAsync<long>(s.SourceDb, "SELECT count(*) FROM people"));
        Assert.False(File.Exists("/tmp/backfill-pwned"));
        Assert.Equal(await PostgresServer.ScalarAsync<string>(s.SourceDb,
                "SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM people t WHERE id > 1000 AND name <> '%_' OR name LIKE 'person 1_' AND score > 9"),
            await PostgresServer.ScalarAsync<string>(s.DestinationDb, string.Format(Rows, "copy.people")));
    }

    [Fact]
    public async Task ATargetWhoseTypesDifferFromTheSources_GetsDecodedRows_AndHoldsTheValuesExactly_OrTheJobFailsNamingTheValue()
    {
        const string sql = """
            CREATE TABLE events (id int PRIMARY KEY, amount numeric(8,2), label varchar(10));
            INSERT INTO events SELECT g, g / 8.0, 'e' || g FROM generate_series(1, 500) g;
            CREATE TABLE prices (id int PRIMARY KEY, amount numeric(8,2));
            INSERT INTO prices SELECT g, g / 2.0 FROM generate_series(1, 50) g;
            INSERT INTO prices VALUES (51, 7.25);
            """;
        await using var s = await CreateAsync(pg, sql, ["public.events", "public.prices"], DestinationKinds.Postgres, RunnerLog);
        // Wider types than the source's: binary int4 or numeric(8,2) data would not load into them as they are.
        // A narrower one: numeric(8,1) holds 0.50 and 25.00 exactly but would round 7.25.
        await PostgresServer.ExecuteAsync(s.DestinationDb, """
            CREATE SCHEMA copy;
            CREATE TABLE copy.events (id bigint PRIMARY KEY, amount numeric(20,4), label text);
            CREATE TABLE copy.prices (id int PRIMARY KEY, amount numeric(8,1));
            """);
        var narrow = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.prices"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)narrow["status"]!);
        var message = (string)narrow["error_message"]!;
        Assert.Contains("Destination 'pg'", message);
        Assert.Contains("public.prices", message);
        Assert.Contains("\"amount\"", message);
        Assert.Contains("'7.25'", message);
        Assert.Contains("numeric(8,1)", message);
        Assert.Equal(0, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.prices"));

        var logs = LogCapture.Attach(s.App);
        Assert.Equal(500, (long)(await RunAsync(s, "public.events"))["count_record"]!);
        Assert.Contains("decoded rows", logs.Text);
        Assert.DoesNotContain(Passed, logs.Text);
        Assert.Equal(await PostgresServer.ScalarAsync<string>(s.SourceDb, "SELECT string_agg(format('%s|%s|%s', id, amount, label), ',' ORDER BY id) FROM events"),
            await PostgresServer.ScalarAsync<string>(s.DestinationDb,
                "SELECT string_agg(format('%s|%s|%s', id, amount::numeric(8,2), label), ',' ORDER BY id) FROM copy.events"));
    }
}
