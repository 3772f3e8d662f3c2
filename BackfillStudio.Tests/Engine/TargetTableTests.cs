using DuckDB.NET.Data;
using System.Diagnostics;
using System.Net;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Engine;

/// <summary>What a job does to the target table: who may write it, when DDL runs, and re-runs over rows already there.</summary>
public sealed class TargetTableTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task DuckDbReRun_OverKeysDuckDbSortsDifferently_NeverFailsOnAKeyTheTargetHolds()
    {
        const string sql = """
            CREATE TYPE tier AS ENUM ('zeta', 'alpha', 'mid');
            CREATE TABLE num_keys (k numeric PRIMARY KEY, v text);
            INSERT INTO num_keys SELECT g, 'n' || g FROM generate_series(-5, 5) g;
            CREATE TABLE enum_keys (k tier PRIMARY KEY, v text);
            INSERT INTO enum_keys VALUES ('zeta', 'z'), ('alpha', 'a'), ('mid', 'm');
            CREATE TABLE text_keys (k text COLLATE "und-x-icu" PRIMARY KEY, v text);
            INSERT INTO text_keys VALUES ('a', '1'), ('B', '2'), ('c', '3'), ('D', '4');
            """;
        await using var s = await CreateAsync(pg, sql, ["public.num_keys", "public.enum_keys", "public.text_keys"], DestinationKinds.DuckDb);
        foreach (var (table, first) in new[] { ("num_keys", "-5"), ("enum_keys", "zeta"), ("text_keys", "a") })
        {
            // The first job copies the key that sorts first in PostgreSQL but not in DuckDB; the re-run copies all.
            var partial = await s.Http.WaitForJobAsync(await s.StartBackfillAsync($"public.{table}", Filter("k", "=", first)), Timeout, "COMPLETED", "FAILED");
            Assert.True("COMPLETED" == (string)partial["status"]!, partial.ToJsonString());
            var all = await s.Http.WaitForJobAsync(await s.StartBackfillAsync($"public.{table}"), Timeout, "COMPLETED", "FAILED");
            Assert.True("COMPLETED" == (string)all["status"]!, all.ToJsonString());
            Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", table),
                await TableContents.FromDuckDbAsync(s.SourceDb, "public", table, s.DuckDbPath, $"main.{table}"));
        }
    }

    /// <summary>
    /// A DuckDB target made by an earlier job: a re-run over it completes (its types compared as DuckDB spells them), a
    /// column the source gained is added, and a column the source retyped fails the job before it writes: DuckDB's
    /// INSERT would cast the new DECIMAL(10,4) values into the old DECIMAL(10,2) column, rounding each one.
    /// </summary>
    [Fact]
    public async Task DuckDbTargetMadeBefore_GainsTheSourcesNewColumns_AndOneOfAnotherTypeFailsTheJob_WritingNothing()
    {
        const string sql = """
            CREATE TABLE prices (id int PRIMARY KEY, amount numeric(10,2), at timestamptz, tags int[], doc jsonb, ref uuid, day date);
            INSERT INTO prices SELECT g, g + 0.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour', ARRAY[g, -g],
                jsonb_build_object('g', g), gen_random_uuid(), date '2024-01-01' + g FROM generate_series(1, 300) g;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.prices"], DestinationKinds.DuckDb);
        async Task<string> BackfillAsync()
        {
            var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.prices"), Timeout, "COMPLETED", "FAILED");
            return (string)job["status"]! == "COMPLETED" ? "COMPLETED" : (string)job["error_message"]!;
        }
        Task<List<string>> DuckDbContents() => TableContents.FromDuckDbAsync(s.SourceDb, "public", "prices", s.DuckDbPath, "main.prices");

        Assert.Equal("COMPLETED", await BackfillAsync());
        Assert.Equal("COMPLETED", await BackfillAsync());
        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE prices ADD COLUMN note text DEFAULT 'n'");
        Assert.Equal("COMPLETED", await BackfillAsync());
        var copied = await DuckDbContents();
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "prices"), copied);

        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE prices ALTER COLUMN amount TYPE numeric(10,4); UPDATE prices SET amount = amount + 0.0001");
        Assert.Contains("The column amount of main.prices in the DuckDB file has type DECIMAL(10,2), but the job writes DECIMAL(10,4)", await BackfillAsync());
        Assert.Equal(copied, await DuckDbContents());
    }

    /// <summary>
    /// A DuckDB target made by hand with wider types than the job declares, as people write them (BIGINT ids, DOUBLE
    /// for any float, a DECIMAL for a count): every value fits unchanged, so the job writes into it. (A float in a DOUBLE
    /// is the same number, printed as a double: -3.4028235e38 as -3.4028234663852886e+38.)
    /// </summary>
    [Fact]
    public async Task DuckDbTargetMadeBeforeWithWiderTypes_TakesTheRowsUnchanged()
    {
        const string sql = """
            CREATE TABLE counts (id int PRIMARY KEY, n smallint, ratio real, total int);
            INSERT INTO counts SELECT g, (g % 30000)::smallint, g + 0.25, 2147483647 - g FROM generate_series(1, 300) g;
            INSERT INTO counts VALUES (-2147483648, -32768, -0.5, -2147483648);
            """;
        await using var s = await CreateAsync(pg, sql, ["public.counts"], DestinationKinds.DuckDb);
        using (var duck = new DuckDBConnection($"Data Source={s.DuckDbPath}"))
        {
            duck.Open();
            using var cmd = duck.CreateCommand();
            cmd.CommandText = "CREATE TABLE main.counts (id BIGINT PRIMARY KEY, n INTEGER, ratio DOUBLE, total DECIMAL(12,0))";
            cmd.ExecuteNonQuery();
        }

        var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.counts"), Timeout, "COMPLETED", "FAILED");

        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "counts"),
            await TableContents.FromDuckDbAsync(s.SourceDb, "public", "counts", s.DuckDbPath, "main.counts"));
    }

    /// <summary>A DuckDB file path holding ';' and '=' is a path, not connection-string options.</summary>
    [Fact]
    public async Task DuckDbFileWhosePathHoldsASemicolon_IsWrittenThere()
    {
        await using var s = await CreateAsync(pg, "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT g, 'n' || g FROM generate_series(1, 100) g;",
            ["public.notes"], DestinationKinds.DuckDb);
        var path = Path.Combine(Path.GetDirectoryName(s.DuckDbPath)!, "odd;access_mode=READ_ONLY.duckdb");
        var destination = (int)(await s.Http.PostOkAsync("/api/v1/destinations", new { name = "odd", type = "duckdb", config = new { path } }))["id"]!;
        var pipeline = await s.AddPipelineAsync("odd", [destination], "public.notes");

        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{pipeline}/backfill", new { table_name = "public.notes" }))["id"]!;
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");

        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.True(File.Exists(path), $"no file at {path}");
    }

    /// <summary>
    /// A DuckDB target made before with another primary key than the source's: INSERT OR REPLACE would match rows on it.
    /// Keyed on (id, label) for a source keyed on id, a label changed between two backfills added a second row of its id.
    /// </summary>
    [Theory]
    [InlineData("id BIGINT, label VARCHAR, PRIMARY KEY (id, label)", "has the primary key (id, label), but the source's is (id)")]
    [InlineData("id BIGINT, label VARCHAR", "has no primary key, but the source's is (id)")]
    [InlineData("ID BIGINT PRIMARY KEY, label VARCHAR", null)]
    public async Task DuckDbTargetMadeBeforeWithAnotherKey_FailsTheJob_WritingNothing(string made, string? error)
    {
        const string sql = "CREATE TABLE labels (id int PRIMARY KEY, label text NOT NULL); INSERT INTO labels SELECT g, 'l' || g FROM generate_series(1, 300) g;";
        await using var s = await CreateAsync(pg, sql, ["public.labels"], DestinationKinds.DuckDb);
        using (var duck = new DuckDBConnection($"Data Source={s.DuckDbPath}"))
        {
            duck.Open();
            using var cmd = duck.CreateCommand();
            cmd.CommandText = $"CREATE TABLE main.labels ({made}); INSERT INTO main.labels VALUES (1, 'old')";
            cmd.ExecuteNonQuery();
        }

        var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.labels"), Timeout, "COMPLETED", "FAILED");

        var copied = await TableContents.FromDuckDbAsync(s.SourceDb, "public", "labels", s.DuckDbPath, "main.labels");
        if (error is null)
        {
            Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
            Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "labels"), copied);
            return;
        }
        Assert.True((string)job["status"]! == "FAILED", job.ToJsonString());
        Assert.Contains($"main.labels in the DuckDB file {error}", (string)job["error_message"]!);
        Assert.Equal(["1|old"], copied);
    }

    /// <summary>
    /// A target made before whose key finds texts equal that the source keeps apart (citext, a case-insensitive
    /// collation): the source's 'K7' and 'k7' are two rows, but the second one's merge overwrote the first, and the job
    /// said COMPLETED with half of them. It now fails before it writes, naming the column; the same key with the
    /// source's equality takes every row. A PostgreSQL target without a unique index on the key is refused too: a batch
    /// written again after a stop could be added twice.
    /// </summary>
    [Theory]
    [InlineData(DestinationKinds.Postgres, "code citext PRIMARY KEY", "compares the key column code of type citext")]
    [InlineData(DestinationKinds.Postgres, "code text COLLATE copy.ci PRIMARY KEY", "compares the key column code under the collation copy.ci")]
    [InlineData(DestinationKinds.Postgres, "code varchar(10) COLLATE \"C\" PRIMARY KEY", null)]
    [InlineData(DestinationKinds.Postgres, "code text", "has no primary key or unique index on the source's key (code)")]
    [InlineData(DestinationKinds.Postgres, "code text UNIQUE", null)]
    [InlineData(DestinationKinds.DuckDb, "code VARCHAR COLLATE NOCASE PRIMARY KEY", "compares its key column code under a collation that finds 'K' and 'k' equal")]
    [InlineData(DestinationKinds.DuckDb, "code VARCHAR COLLATE NOACCENT PRIMARY KEY", "finds 'é' and 'e' equal")]
    [InlineData(DestinationKinds.DuckDb, "code VARCHAR COLLATE NFC PRIMARY KEY", "finds 'é' and 'e' followed by U+0301 equal")]
    [InlineData(DestinationKinds.DuckDb, "code VARCHAR PRIMARY KEY", null)]
    public async Task TargetMadeBeforeWithoutTheKeyOrWithOneFindingDifferentTextsEqual_FailsTheJob_WritingNothing(DestinationKinds kind, string key, string? error)
    {
        // In the C collation every upper-case code sorts before the lower-case ones: 'K7' and 'k7' land in other batches.
        const string sql = """
            CREATE TABLE codes (code text COLLATE "C" PRIMARY KEY, v int NOT NULL);
            INSERT INTO codes SELECT c || g, g FROM generate_series(1, 150) g, (VALUES ('K'), ('k')) AS v(c);
            """;
        await using var s = await CreateAsync(pg, sql, ["public.codes"], kind, "--Backfill:BatchSize=100");
        Func<Task<List<string>>> copied;
        if (kind == DestinationKinds.Postgres)
        {
            await PostgresServer.ExecuteAsync(s.DestinationDb, $"""
                CREATE EXTENSION citext;
                CREATE SCHEMA copy;
                CREATE COLLATION copy.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
                CREATE TABLE copy.codes ({key}, v int NOT NULL);
                """);
            copied = () => TableContents.FromPostgresAsync(s.DestinationDb, "copy", "codes");
        }
        else
        {
            using (var duck = new DuckDBConnection($"Data Source={s.DuckDbPath}"))
            {
                duck.Open();
                using var cmd = duck.CreateCommand();
                cmd.CommandText = $"CREATE TABLE main.codes ({key}, v INTEGER NOT NULL)";
                cmd.ExecuteNonQuery();
            }
            copied = () => TableContents.FromDuckDbAsync(s.SourceDb, "public", "codes", s.DuckDbPath, "main.codes");
        }

        var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.codes"), Timeout, "COMPLETED", "FAILED");

        if (error is null)
        {
            Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
            Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "codes"), await copied());
            return;
        }
        Assert.True((string)job["status"]! == "FAILED", job.ToJsonString());
        Assert.Contains(error, (string)job["error_message"]!);
        Assert.Empty(await copied());
    }

    /// <summary>
    /// A PostgreSQL target made before from the source's own DDL (<c>pg_dump -s</c>) brings its triggers along: one that
    /// stamps <c>updated_at</c> on insert changed every copied row, and a count could not show it. A trigger or rule that
    /// may change or drop rows fails the job before it writes, saying how to disable it; triggers after the row stay. So
    /// does an UNLOGGED target or partition, saying how to make it logged.
    /// </summary>
    [Theory]
    [InlineData("CREATE TRIGGER touch BEFORE INSERT OR UPDATE ON copy.accounts FOR EACH ROW EXECUTE FUNCTION copy.touch()",
        "copy.accounts has the trigger touch, which runs before each row is inserted or updated", "ALTER TABLE \"copy\".\"accounts\" DISABLE TRIGGER \"touch\"")]
    [InlineData("CREATE RULE even_out AS ON INSERT TO copy.accounts WHERE NEW.id % 2 = 0 DO INSTEAD NOTHING",
        "copy.accounts has the rule even_out on INSERT or UPDATE", "DROP RULE \"even_out\" ON \"copy\".\"accounts\"")]
    [InlineData("CREATE TRIGGER audit AFTER INSERT OR UPDATE ON copy.accounts FOR EACH ROW EXECUTE FUNCTION copy.touch()", null, null)]
    [InlineData("""
        ALTER TABLE copy.accounts RENAME TO accounts_old; CREATE TABLE copy.accounts (LIKE copy.accounts_old INCLUDING ALL) PARTITION BY RANGE (id);
        CREATE TABLE copy.accounts_low PARTITION OF copy.accounts FOR VALUES FROM (MINVALUE) TO (150);
        CREATE TABLE copy.accounts_high PARTITION OF copy.accounts FOR VALUES FROM (150) TO (MAXVALUE);
        CREATE TRIGGER touch BEFORE INSERT ON copy.accounts_high FOR EACH ROW EXECUTE FUNCTION copy.touch()
        """, "copy.accounts has the trigger touch on its partition copy.accounts_high, which runs before each row is inserted or updated",
        "ALTER TABLE \"copy\".\"accounts_high\" DISABLE TRIGGER \"touch\"")]
    // An UNLOGGED table (a bulk-load habit) comes back empty after a crash or a standby's promotion: rows the job's
    // checkpoint says are written would be gone for good.
    [InlineData("ALTER TABLE copy.accounts SET UNLOGGED", "copy.accounts is UNLOGGED", "ALTER TABLE \"copy\".\"accounts\" SET LOGGED")]
    [InlineData("""
        ALTER TABLE copy.accounts RENAME TO accounts_old; CREATE TABLE copy.accounts (LIKE copy.accounts_old INCLUDING ALL) PARTITION BY RANGE (id);
        CREATE TABLE copy.accounts_low PARTITION OF copy.accounts FOR VALUES FROM (MINVALUE) TO (150);
        CREATE UNLOGGED TABLE copy.accounts_high PARTITION OF copy.accounts FOR VALUES FROM (150) TO (MAXVALUE)
        """, "copy.accounts has its partition copy.accounts_high UNLOGGED", "ALTER TABLE \"copy\".\"accounts_high\" SET LOGGED")]
    public async Task PostgresTargetMadeBeforeThatMayChangeOrLoseRows_FailsTheJob_WritingNothing(string made, string? error, string? fix)
    {
        const string sql = """
            CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL);
            INSERT INTO accounts SELECT g, 'account ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day' FROM generate_series(1, 300) g;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.accounts"], DestinationKinds.Postgres, "--Backfill:BatchSize=100");
        await PostgresServer.ExecuteAsync(s.DestinationDb, $"""
            CREATE SCHEMA copy;
            CREATE TABLE copy.accounts (id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL);
            CREATE FUNCTION copy.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
            {made};
            """);
        async Task<string> BackfillAsync()
        {
            var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.accounts"), Timeout, "COMPLETED", "FAILED");
            return (string)job["status"]! == "COMPLETED" ? "COMPLETED" : (string)job["error_message"]!;
        }

        if (error is not null)
        {
            var failed = await BackfillAsync();
            Assert.Contains(error, failed);
            Assert.Contains(fix!, failed);
            Assert.Equal(0, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.accounts"));
            await PostgresServer.ExecuteAsync(s.DestinationDb, fix!);
        }

        Assert.Equal("COMPLETED", await BackfillAsync());
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "accounts"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "accounts"));
    }

    [Fact]
    public async Task TargetDdl_RunsOnlyWhenAColumnIsMissing_AndWaitsAtMostTheLockTimeoutForALongReader()
    {
        const string sql = "CREATE TABLE facts (id int PRIMARY KEY, v text); INSERT INTO facts SELECT g, 'v' || g FROM generate_series(1, 500) g;";
        await using var s = await CreateAsync(pg, sql, ["public.facts"], DestinationKinds.Postgres, "--Backfill:DdlLockTimeoutSeconds=2");
        var first = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.facts"), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)first["status"]!, first.ToJsonString());

        // A report query holds the target open for the rest of the test.
        await using var reader = new NpgsqlConnection(s.DestinationDb);
        await reader.OpenAsync();
        await using var tx = await reader.BeginTransactionAsync();
        await using (var cmd = new NpgsqlCommand("SELECT count(*) FROM copy.facts", reader, tx)) await cmd.ExecuteScalarAsync();

        var unchanged = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.facts"), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)unchanged["status"]!, unchanged.ToJsonString());

        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE facts ADD COLUMN extra int DEFAULT 7");
        var clock = Stopwatch.StartNew();
        var blocked = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.facts"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)blocked["status"]!);
        Assert.Contains("Could not lock copy.facts", (string)blocked["error_message"]!);
        Assert.Contains("within 2 s", (string)blocked["error_message"]!);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the job waited {clock.Elapsed}");

        await tx.RollbackAsync();
        var added = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.facts"), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)added["status"]!, added.ToJsonString());
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "facts"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "facts"));
    }

    private const string TwoSchemasSql = """
        CREATE SCHEMA sales; CREATE SCHEMA archive;
        CREATE TABLE sales.items (id int PRIMARY KEY, what text);
        CREATE TABLE archive.items (id int PRIMARY KEY, what text);
        INSERT INTO sales.items SELECT g, 'sold ' || g FROM generate_series(1, 300) g;
        INSERT INTO archive.items SELECT g, 'archived ' || g FROM generate_series(1, 300) g;
        """;

    [Fact]
    public async Task TwoSourceTables_NeverWriteOneTargetTable_RefusedInAPipeline_AndFailingAcrossPipelines()
    {
        await using var s = await CreateAsync(pg, TwoSchemasSql, ["sales.items"], DestinationKinds.All);

        var (status, problem) = await s.Http.PostJsonAsync("/api/v1/pipelines", new
        {
            name = "both", source_id = s.SourceId, destination_ids = s.DestinationIds,
            tables = new[] { new { table_name = "sales.items" }, new { table_name = "archive.items" } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = (string)problem["errors"]!["tables[1].target_table_name"]![0]!;
        Assert.Contains("sales.items", error);
        Assert.Contains("archive.items", error);

        // DuckDB and Snowflake's upper-case identifiers do not tell ITEMS from items.
        var (caseStatus, caseProblem) = await s.Http.PostJsonAsync("/api/v1/pipelines", new
        {
            name = "by-case", source_id = s.SourceId, destination_ids = s.DestinationIds,
            tables = new object[] { new { table_name = "sales.items" }, new { table_name = "archive.items", target_table_name = "ITEMS" } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, caseStatus);
        Assert.Contains("'ITEMS'", (string)caseProblem["errors"]!["tables[1].target_table_name"]![0]!);

        var sales = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("sales.items"), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)sales["status"]!, sales.ToJsonString());
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "sales", "items");

        // One pipeline per destination copies archive.items into the same target name: each fails before writing.
        foreach (var destination in s.DestinationIds)
        {
            var pipeline = await s.Http.PostOkAsync("/api/v1/pipelines", new
            {
                name = $"archive-{destination}", source_id = s.SourceId, destination_ids = new[] { destination },
                tables = new[] { new { table_name = "archive.items" } },
            });
            var job = await s.Http.PostOkAsync($"/api/v1/pipelines/{(int)pipeline["id"]!}/backfill", new { table_name = "archive.items" });
            var failed = await s.Http.WaitForJobAsync((int)job["id"]!, Timeout, "COMPLETED", "FAILED");
            Assert.Equal("FAILED", (string)failed["status"]!);
            Assert.Contains("sales.items", (string)failed["error_message"]!);
            Assert.Contains("archive.items", (string)failed["error_message"]!);
            Assert.Equal(0L, (long)failed["count_record"]!);
        }
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "items"));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "sales", "items", s.DuckDbPath, "main.items"));

        // With a target name of its own, archive.items is copied next to sales.items.
        var renamed = await s.Http.PostOkAsync("/api/v1/pipelines", new
        {
            name = "archive-renamed", source_id = s.SourceId, destination_ids = s.DestinationIds,
            tables = new[] { new { table_name = "archive.items", target_table_name = "archive_items" } },
        });
        var ok = await s.Http.PostOkAsync($"/api/v1/pipelines/{(int)renamed["id"]!}/backfill", new { table_name = "archive.items" });
        var done = await s.Http.WaitForJobAsync((int)ok["id"]!, Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)done["status"]!, done.ToJsonString());
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "archive", "items"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "archive_items"));
    }
}
