using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;
using DuckDB.NET.Data;
using Npgsql;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Engine;

/// <summary>
/// Values and table shapes that real databases hold: each arrives exactly in every destination (or in its
/// documented lossless form), or the job fails naming the table, the column and the value.
/// </summary>
public sealed class FidelityTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private const string EdgeValuesSql = """
        CREATE TYPE level AS ENUM ('low', 'mid', 'high');
        CREATE DOMAIN positive_amounts AS numeric(12,2)[] CHECK (true);
        CREATE TYPE pair AS (a int, b text);
        CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
        CREATE DOMAIN tenths AS numeric(6,1);
        CREATE TABLE edge_values (
            id int PRIMARY KEY,
            d date, ts timestamp, tstz timestamptz, t time, ttz timetz,
            n numeric, n_neg numeric(5,-2), f4 real, f8 float8,
            m money, iv interval, bits bit(4), vbits varbit, addr inet, net cidr, mac macaddr, doc xml, tsv tsvector,
            r int4range, mr int4multirange, p pair, lv level,
            va varchar(20)[], ca char(3)[], na numeric[], ea level[], da date[], dom positive_amounts,
            j json, big text, mail email, tenth tenths, ia int[], ba bool[], ua uuid[], fa float8[],
            u uuid, b bytea, jb jsonb, s2 smallint, i8 bigint, flag bool);
        INSERT INTO edge_values VALUES
          (1, '9999-12-31', '9999-12-31 23:59:59.999999', '0001-01-01 00:00:00+00', '24:00:00', '23:59:59.999999+14:59',
              'NaN', 12300, 'NaN', '-0', 1234567.89, '1 year 2 mons -3 days 04:05:06.789', B'1010', B'101', '192.168.0.1/24', '10.0.0.0/8',
              '08:00:2b:01:02:03', '<a x="1">t</a>', 'a:1 fat:2 cat', '[1,5)', '{[1,3),[7,9)}', ROW(1, 'x,"y"'), 'high',
              ARRAY['a,b', 'q"uote', NULL]::varchar(20)[], ARRAY['ab', NULL]::char(3)[], '[0:1]={1.50,NaN}', ARRAY['low','high']::level[],
              ARRAY['infinity', '0044-03-15 BC', NULL]::date[], '{{1.10,2.20},{3.30,NULL}}', '{"k": 1, "k": 2, "z": "\u0000"}', repeat('é', 600000),
              'a@b', 12345.6, ARRAY[1, NULL, -2147483648], ARRAY[true, NULL], ARRAY['6f1e9f3c-5b1a-4c1e-9f7a-2d3b4c5d6e7f'::uuid, NULL], ARRAY['NaN', '-Infinity', '-0', 1.5]::float8[],
              '6f1e9f3c-5b1a-4c1e-9f7a-2d3b4c5d6e7f', '\x00ff', '{"a": [1, "x"], "b": null}', -32768, 9223372036854775807, true),
          (2, 'infinity', '-infinity', 'infinity', '00:00:00', '00:00:00-15:59',
              'Infinity', -99900, 'Infinity', '-Infinity', -0.01, '-178000000 years', B'0000', B'', '::1', '::/0',
              'ff:ff:ff:ff:ff:ff', '', '', 'empty', '{}', ROW(NULL, NULL), 'low',
              '{}', '{}', '{}', '{}', '{}', '{}', '[]', '', '@', -0.1, '{}', '{}', '{}', '{}',
              '00000000-0000-0000-0000-000000000000', '\x', '{}', 32767, -9223372036854775808, false),
          (3, '0044-03-15 BC', '0044-03-15 12:00:00.000001 BC', '200000-01-01 00:00:00+00', '12:34:56.000001', '12:00:00+00',
              '-1234567890123456789012345678901234567890.123456789012345678901234567890', 0, 3.4028235e38, 2.2250738585072014e-308,
              0, '00:00:00.000001', B'1111', B'1', '0.0.0.0', '0.0.0.0/0', '00:00:00:00:00:00', '<x/>', 'ä:1', '(,)', '{[,)}', ROW(0, ''), 'mid',
              ARRAY['Grüße 日本語 😀'], ARRAY['x'], '{0.1}', '{mid}', '{-infinity}', '{}', '[1, 2.50, "x"]', 'tab	and \ backslash',
              'ü@ß', 0, '{0}', '{false}', '{}', '{1e308}',
              'ffffffff-ffff-ffff-ffff-ffffffffffff', '\xdeadbeef', '[1.50, "日本", {"é": ""}]', 0, 0, true),
          (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
              NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
              NULL, NULL, NULL, NULL, NULL, NULL);
        ANALYZE;
        """;

    [Fact]
    public async Task EdgeValuesOfEveryType_ArriveExactly_InPostgres_AndAsNativeOrLosslessText_InDuckDbAndParquet()
    {
        await using var s = await CreateAsync(pg, EdgeValuesSql, ["public.edge_values"], DestinationKinds.All);
        var jobId = await s.StartBackfillAsync("public.edge_values");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        Assert.Equal(4, (long)job["count_record"]!);

        // PostgreSQL: every column, by PostgreSQL's own text of the whole row.
        const string rows = "SELECT string_agg(t::text, E'\\n' ORDER BY id) FROM {0} t";
        Assert.Equal(await PostgresServer.ScalarAsync<string>(s.SourceDb, string.Format(rows, "public.edge_values")),
            await PostgresServer.ScalarAsync<string>(s.DestinationDb, string.Format(rows, "copy.edge_values")));

        // DuckDB and Parquet: column by column against the source's text.
        var source = await SourceTextAsync(s.SourceDb);
        var duck = DuckDbText(s.DuckDbPath, "main.edge_values");
        var parquet = DuckDbText(null, $"read_parquet('{s.ParquetDirectory}/edge_values/{jobId}/*.parquet')");
        foreach (var column in source.Keys)
        {
            Assert.True(source[column].SequenceEqual(duck[column]), $"duckdb {column}: [{string.Join(" | ", duck[column])}] vs source [{string.Join(" | ", source[column])}]");
            Assert.True(source[column].SequenceEqual(parquet[column]), $"parquet {column}: [{string.Join(" | ", parquet[column])}]");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task EdgeValuesOfEveryType_ArriveExactly_InAPostgresOnlyPipeline_UndecodedOrDecoded(bool binaryCopy)
    {
        await using var s = await CreateAsync(pg, EdgeValuesSql, ["public.edge_values"], DestinationKinds.Postgres,
            $"--Backfill:BinaryCopy={binaryCopy}", "--Backfill:BatchSize=2", BinaryCopyTests.RunnerLog);
        var logs = LogCapture.Attach(s.App);
        // money and xml keep a job on decoded rows (BinaryCopyTests); the decoded run covers them.
        if (binaryCopy) await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE edge_values DROP COLUMN m, DROP COLUMN doc");
        var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.edge_values"), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        Assert.Contains(binaryCopy ? "binary COPY passed through" : "decoded rows", logs.Text);
        const string rows = "SELECT string_agg(t::text, E'\\n' ORDER BY id) FROM {0} t";
        Assert.Equal(await PostgresServer.ScalarAsync<string>(s.SourceDb, string.Format(rows, "public.edge_values")),
            await PostgresServer.ScalarAsync<string>(s.DestinationDb, string.Format(rows, "copy.edge_values")));
    }

    [Fact]
    public async Task EdgeValuesOfEveryType_ReachDuckDbAndParquet_ThroughTheStageCopy_ExactlyAsDecodedRowsDo()
    {
        // Decoded rows are the reference the test above holds against the source; every column must match them.
        var typed = await DuckDbAndParquetTextAsync(binaryCopy: true);
        var decoded = await DuckDbAndParquetTextAsync(binaryCopy: false);
        Assert.Equal(decoded.Keys, typed.Keys);
        foreach (var column in decoded.Keys)
            Assert.True(decoded[column].SequenceEqual(typed[column]), $"{column}: [{string.Join(" | ", typed[column])}] vs decoded [{string.Join(" | ", decoded[column])}]");
    }

    /// <summary>Block ranges are read whole, past any byte budget: here about 3 MB of binary COPY data each (a capture buffer that
    /// grew by what each read needed once past 1 MiB copied itself for every few bytes and never finished).</summary>
    [Theory]
    [InlineData(DestinationKinds.DuckDb | DestinationKinds.Parquet)]
    [InlineData(DestinationKinds.Postgres)]
    public async Task AKeylessTableOfWideRows_ArrivesWhole_ThroughBinaryCopy_InBlockRangesOfMegabytes(DestinationKinds kinds)
    {
        const string sql = """
            CREATE TABLE readings (sensor text, at timestamptz, value float8, tags text[], raw bytea, body text);
            INSERT INTO readings SELECT 's' || g % 7, timestamptz '2024-01-01 00:00+00' + g * interval '1 minute', g / 3.0,
                ARRAY['t' || g % 5, NULL], decode(lpad(to_hex(g), 6, '0'), 'hex'), repeat(md5(g::text), 18) FROM generate_series(1, 6000) g;
            ANALYZE readings;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.readings"], kinds, "--Backfill:BatchSize=5000", BinaryCopyTests.RunnerLog);
        var logs = LogCapture.Attach(s.App);
        var jobId = await s.StartBackfillAsync("public.readings");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings");
        Assert.Equal(6000, expected.Count);
        if (kinds == DestinationKinds.Postgres)
        {
            Assert.Contains("binary COPY passed through", logs.Text);
            Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings"));
            return;
        }
        Assert.Contains("binary COPY appended to DuckDB", logs.Text);
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "readings", s.DuckDbPath, "main.readings"));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "readings", null,
            $"read_parquet('{s.ParquetDirectory}/readings/{jobId}/*.parquet')"));
    }

    [Fact]
    public async Task TextThatIsNotUtf8_FromASqlAsciiSource_FailsTheJobInTheSource_NothingWritten()
    {
        await using var s = await CreateAsync(pg, "CREATE TABLE notes (id int PRIMARY KEY, body text)", ["public.notes"],
            DestinationKinds.DuckDb | DestinationKinds.Parquet, BinaryCopyTests.RunnerLog);
        var logs = LogCapture.Attach(s.App);
        // The same database again, as SQL_ASCII: PostgreSQL stores its text bytes without checking them.
        var name = new NpgsqlConnectionStringBuilder(s.SourceDb).Database!;
        var admin = new NpgsqlConnectionStringBuilder(s.SourceDb) { Database = "postgres" }.ConnectionString;
        await PostgresServer.ExecuteAsync(admin, $"DROP DATABASE \"{name}\" WITH (FORCE)");
        await PostgresServer.ExecuteAsync(admin, $"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
        // The pooled connections to the dropped database (the test's and the app's, in this process) were ended by the server.
        NpgsqlConnection.ClearAllPools();
        await PostgresServer.ExecuteAsync(s.SourceDb, "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'fine'), (2, E'caf\\xe9')");

        var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.notes"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)job["status"]!);
        // The source checks text it converts for a UTF-8 session, so bytes that are not UTF-8 never reach a destination.
        Assert.Contains("invalid byte sequence for encoding \"UTF8\": 0xe9", (string)job["error_message"]!);
        Assert.Contains("binary COPY appended to DuckDB", logs.Text);
        Assert.Equal(0L, (long)job["count_record"]!);
        Assert.False(Directory.Exists(Path.Combine(s.ParquetDirectory, "notes", job["id"]!.ToString())) &&
            Directory.EnumerateFiles(Path.Combine(s.ParquetDirectory, "notes", job["id"]!.ToString()), "*.parquet").Any());
    }

    /// <summary>Every column of a DuckDB-and-Parquet copy of edge_values as DuckDB prints it, keyed "duckdb.col" and "parquet.col".</summary>
    private async Task<Dictionary<string, List<string>>> DuckDbAndParquetTextAsync(bool binaryCopy)
    {
        await using var s = await CreateAsync(pg, EdgeValuesSql, ["public.edge_values"], DestinationKinds.DuckDb | DestinationKinds.Parquet,
            $"--Backfill:BinaryCopy={binaryCopy}", "--Backfill:BatchSize=2", BinaryCopyTests.RunnerLog);
        var logs = LogCapture.Attach(s.App);
        var jobId = await s.StartBackfillAsync("public.edge_values");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        Assert.Contains(binaryCopy ? "binary COPY appended to DuckDB" : "decoded rows", logs.Text);
        using var connection = new DuckDBConnection($"Data Source={s.DuckDbPath}");
        connection.Open();
        var columns = new List<string>();
        using (var names = connection.CreateCommand())
        {
            names.CommandText = "SELECT column_name FROM information_schema.columns WHERE table_name = 'edge_values' ORDER BY ordinal_position";
            using var reader = names.ExecuteReader();
            while (reader.Read()) columns.Add(reader.GetString(0));
        }
        Assert.Equal(43, columns.Count);
        var result = new Dictionary<string, List<string>>();
        foreach (var (name, relation) in new[] { ("duckdb", "main.edge_values"), ("parquet", $"read_parquet('{s.ParquetDirectory}/edge_values/{jobId}/*.parquet')") })
        {
            foreach (var column in columns)
            {
                using var cmd = connection.CreateCommand();
                cmd.CommandText = $"SELECT coalesce(CAST({column} AS VARCHAR), '∅') FROM {relation} ORDER BY id";
                using var reader = cmd.ExecuteReader();
                var values = new List<string>();
                while (reader.Read()) values.Add(reader.GetString(0));
                result[$"{name}.{column}"] = values;
            }
        }
        return result;
    }

    /// <summary>The columns DuckDB holds natively are rendered the way PostgreSQL prints them; the rest are compared as the text they arrive as.</summary>
    private static readonly string[] ComparedColumns =
        ["d", "ts", "tstz", "t", "ttz", "n", "n_neg", "f4", "f8", "m", "iv", "bits", "vbits", "addr", "net", "mac", "doc", "tsv", "r", "mr", "p", "lv",
         "na", "ea", "da", "dom", "big", "mail", "tenth", "u", "jb", "s2", "i8"];

    private static async Task<Dictionary<string, List<string>>> SourceTextAsync(string connectionString)
    {
        // Timestamps with time zone as the DuckDB side prints them, whatever TZ the tests run under.
        connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Timezone = "UTC" }.ConnectionString;
        var result = new Dictionary<string, List<string>>();
        foreach (var column in ComparedColumns)
        {
            // money arrives as its numeric value (locale-independent).
            var expr = column == "m" ? "m::numeric::text" : $"{column}::text";
            var text = await PostgresServer.ScalarAsync<string>(connectionString,
                $"SELECT string_agg(coalesce({expr}, '∅'), E'\\x1f' ORDER BY id) FROM edge_values");
            result[column] = text.Split('\x1f').ToList();
        }
        return result;
    }

    private static Dictionary<string, List<string>> DuckDbText(string? path, string relation)
    {
        using var connection = new DuckDBConnection(path is null ? "Data Source=:memory:" : $"Data Source={path}");
        connection.Open();
        using (var tz = connection.CreateCommand())
        {
            tz.CommandText = "SET TimeZone = 'UTC'";
            tz.ExecuteNonQuery();
        }
        var result = new Dictionary<string, List<string>>();
        foreach (var column in ComparedColumns)
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = $"SELECT coalesce(CAST({column} AS VARCHAR), '∅') FROM {relation} ORDER BY id";
            using var reader = cmd.ExecuteReader();
            var values = new List<string>();
            while (reader.Read()) values.Add(AsPostgresPrints(reader.GetString(0)));
            result[column] = values;
        }
        return result;
    }

    [Fact]
    public async Task VarcharAndCharArrays_GoStraightIntoTheTarget_WithTheirElementType()
    {
        // Only columns binary COPY writes directly, so the batch takes the direct path into the target.
        const string sql = """
            CREATE TABLE tagged (id int PRIMARY KEY, tags varchar(20)[], codes char(3)[], names name[]);
            INSERT INTO tagged SELECT g, ARRAY['t' || g, NULL, 'a,b "c"'], ARRAY['ab', 'xyz'], ARRAY['n' || g]::name[] FROM generate_series(1, 50) g;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.tagged"], DestinationKinds.Postgres | DestinationKinds.DuckDb);
        var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.tagged"), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        const string rows = "SELECT string_agg(t::text, ',' ORDER BY id) FROM {0} t";
        Assert.Equal(await PostgresServer.ScalarAsync<string>(s.SourceDb, string.Format(rows, "public.tagged")),
            await PostgresServer.ScalarAsync<string>(s.DestinationDb, string.Format(rows, "copy.tagged")));
        Assert.Equal("character varying(20)[]", await PostgresServer.ScalarAsync<string>(s.DestinationDb,
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'copy.tagged'::regclass AND attname = 'tags'"));
    }

    [Fact]
    public async Task NumericsADecimalCannotHold_ReachPostgresExactly_ThroughTheMergePath()
    {
        const string sql = """
            CREATE TABLE amounts (id int PRIMARY KEY, small numeric(10,2), wide numeric(28,6));
            INSERT INTO amounts SELECT g, g / 4.0, g * 1000000.000001 FROM generate_series(1, 300) g;
            UPDATE amounts SET small = 'NaN' WHERE id = 150;
            UPDATE amounts SET wide = 9999999999999999999999.999999 WHERE id = 250;
            """;
        // Decoded rows: a binary COPY would carry the numerics undecoded (the test above).
        await using var s = await CreateAsync(pg, sql, ["public.amounts"], DestinationKinds.Postgres, "--Backfill:BatchSize=100", "--Backfill:BinaryCopy=false");
        var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.amounts"), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        const string rows = "SELECT string_agg(t::text, ',' ORDER BY id) FROM {0} t";
        Assert.Equal(await PostgresServer.ScalarAsync<string>(s.SourceDb, string.Format(rows, "public.amounts")),
            await PostgresServer.ScalarAsync<string>(s.DestinationDb, string.Format(rows, "copy.amounts")));
    }

    /// <summary>DuckDB's spelling of the few values it prints differently from PostgreSQL.</summary>
    private static string AsPostgresPrints(string duck) => duck switch
    {
        "nan" => "NaN",
        "inf" => "Infinity",
        "-inf" => "-Infinity",
        "-0.0" => "-0",
        // DuckDB prints a BC date as "0044-03-15 (BC) 12:00:00", PostgreSQL as "0044-03-15 12:00:00 BC".
        _ when duck.Contains(" (BC)") => duck.Replace(" (BC)", "") + " BC",
        _ => duck,
    };

    /// <summary>With PostgreSQL among the destinations the rows are decoded; DuckDB and Parquet alone take the stage copy.</summary>
    [Theory]
    [InlineData(DestinationKinds.Postgres | DestinationKinds.DuckDb)]
    [InlineData(DestinationKinds.DuckDb | DestinationKinds.Parquet)]
    public async Task ValuesADestinationCannotHold_FailTheJob_NamingTableColumnValueAndDestination_BeforeWritingTheBatch(DestinationKinds kinds)
    {
        const string sql = """
            CREATE TABLE prices (id int PRIMARY KEY, amount numeric(10,2));
            INSERT INTO prices SELECT g, g FROM generate_series(1, 50) g;
            INSERT INTO prices VALUES (51, 'NaN');
            CREATE TABLE shaped (id int PRIMARY KEY, slots int[]);
            INSERT INTO shaped VALUES (1, '{1,2}'), (2, '[0:1]={7,8}');
            CREATE TABLE late (id int PRIMARY KEY, at timestamp);
            INSERT INTO late VALUES (1, '2024-01-01'), (2, '294270-01-01 12:00:00');
            """;
        await using var s = await CreateAsync(pg, sql, ["public.prices", "public.shaped", "public.late"], kinds, BinaryCopyTests.RunnerLog);
        var logs = LogCapture.Attach(s.App);

        var nan = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.prices"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)nan["status"]!);
        var message = (string)nan["error_message"]!;
        Assert.Contains("Destination 'duck'", message);
        Assert.Contains("public.prices", message);
        Assert.Contains("\"amount\"", message);
        Assert.Contains("'NaN'", message);
        Assert.Equal(0L, (long)nan["count_record"]!);
        // The batch holding the value was not written anywhere DuckDB-side.
        using (var duck = new DuckDBConnection($"Data Source={s.DuckDbPath}"))
        {
            duck.Open();
            using var cmd = duck.CreateCommand();
            cmd.CommandText = "SELECT count(*) FROM main.prices";
            Assert.Equal(0L, Convert.ToInt64(cmd.ExecuteScalar()));
        }
        var parquetFolder = Path.Combine(s.ParquetDirectory, "prices");
        Assert.Empty(Directory.Exists(parquetFolder) ? Directory.EnumerateFiles(parquetFolder, "*.parquet", SearchOption.AllDirectories) : []);

        var shape = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.shaped"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)shape["status"]!);
        Assert.Contains("\"slots\"", (string)shape["error_message"]!);
        Assert.Contains("[0:1]={7,8}", (string)shape["error_message"]!);

        var late = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.late"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)late["status"]!);
        Assert.Contains("\"at\"", (string)late["error_message"]!);
        Assert.Contains("'294270-01-01 12:00:00'", (string)late["error_message"]!);
        Assert.Contains("DuckDB's last timestamp", (string)late["error_message"]!);
        Assert.Contains(kinds.HasFlag(DestinationKinds.Postgres) ? "decoded rows" : "binary COPY appended to DuckDB", logs.Text);
    }

    [Fact]
    public async Task DroppedAndGeneratedColumns_WideRows_AndUnicodeNames_AreCopiedExactly_AndGeneratedTargetColumnsAreLeftToTheTarget()
    {
        const string sql = """"
            CREATE SCHEMA "Ünï Schema";
            CREATE TABLE "Ünï Schema"."Tåble 表 ""q""" (
                id int PRIMARY KEY, "Mixed Case" text, gone int, twice int GENERATED ALWAYS AS (id * 2) STORED, doc jsonb, raw bytea);
            ALTER TABLE "Ünï Schema"."Tåble 表 ""q""" DROP COLUMN gone;
            INSERT INTO "Ünï Schema"."Tåble 表 ""q""" (id, "Mixed Case", doc, raw)
            SELECT g, 'row ' || g, jsonb_build_object('pad', repeat(chr(65 + g % 26), 1048576)), decode(repeat(lpad(to_hex(g), 2, '0'), 1048576), 'hex')
            FROM generate_series(1, 12) g;
            CREATE TABLE computed (id int PRIMARY KEY, v text, twice int GENERATED ALWAYS AS (id * 2) STORED);
            INSERT INTO computed (id, v) SELECT g, 'v' || g FROM generate_series(1, 100) g;
            """";
        const string wide = "Ünï Schema.Tåble 表 \"q\"";
        await using var s = await CreateAsync(pg, sql, [wide, "public.computed"], DestinationKinds.All, "--Backfill:BatchSize=5");
        // An existing target whose "twice" is generated its own way: the job leaves that column to the target.
        await PostgresServer.ExecuteAsync(s.DestinationDb,
            "CREATE SCHEMA copy; CREATE TABLE copy.computed (id int PRIMARY KEY, v text, twice int GENERATED ALWAYS AS (id * 3) STORED)");

        foreach (var table in new[] { wide, "public.computed" })
        {
            var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync(table), Timeout, "COMPLETED", "FAILED");
            Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        }

        const string rows = "SELECT string_agg(md5(t::text), ',' ORDER BY id) FROM {0} t";
        Assert.Equal(await PostgresServer.ScalarAsync<string>(s.SourceDb, string.Format(rows, "\"Ünï Schema\".\"Tåble 表 \"\"q\"\"\"")),
            await PostgresServer.ScalarAsync<string>(s.DestinationDb, string.Format(rows, "copy.\"Tåble 表 \"\"q\"\"\"")));
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "Ünï Schema", "Tåble 表 \"q\"");
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "Ünï Schema", "Tåble 表 \"q\"", s.DuckDbPath,
            $"main.{TableContents.Q("Tåble 表 \"q\"")}"));
        Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.DestinationDb,
            "SELECT count(*) FROM copy.computed WHERE twice <> id * 3 OR v <> 'v' || id"));
        Assert.Equal(100L, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.computed"));
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "computed"),
            await TableContents.FromDuckDbAsync(s.SourceDb, "public", "computed", s.DuckDbPath, "main.computed"));
    }

    [Fact]
    public async Task PartitionedAndInheritedTables_CopyEveryRow_WithAndWithoutPrimaryKey()
    {
        const string sql = """
            CREATE TABLE events (at date NOT NULL, region text NOT NULL, n int) PARTITION BY RANGE (at);
            CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01') PARTITION BY LIST (region);
            CREATE TABLE events_2023_eu PARTITION OF events_2023 FOR VALUES IN ('eu');
            CREATE TABLE events_2023_other PARTITION OF events_2023 DEFAULT;
            CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            INSERT INTO events SELECT date '2023-01-01' + g % 700, (ARRAY['eu','us','ap'])[1 + g % 3], g FROM generate_series(1, 6000) g;
            CREATE TABLE keyed (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE keyed_a PARTITION OF keyed FOR VALUES FROM ('2000-01-01') TO ('2024-01-01');
            CREATE TABLE keyed_b PARTITION OF keyed FOR VALUES FROM ('2024-01-01') TO ('2100-01-01');
            INSERT INTO keyed SELECT g, date '2023-06-01' + g % 400, 'v' || g FROM generate_series(1, 3000) g;
            CREATE TABLE animals (name text, legs int);
            CREATE TABLE dogs (good boolean) INHERITS (animals);
            CREATE TABLE puppies () INHERITS (dogs);
            INSERT INTO animals SELECT 'a' || g, 2 FROM generate_series(1, 700) g;
            INSERT INTO dogs SELECT 'd' || g, 4, true FROM generate_series(1, 900) g;
            INSERT INTO puppies SELECT 'p' || g, 4, g % 2 = 0 FROM generate_series(1, 500) g;
            -- A key on an inheritance parent is not unique across its children: ids 1..300 appear twice.
            CREATE TABLE vehicles (id int PRIMARY KEY, kind text);
            CREATE TABLE cars (seats int) INHERITS (vehicles);
            INSERT INTO vehicles SELECT g, 'vehicle' FROM generate_series(1, 800) g;
            INSERT INTO cars SELECT g, 'car', 4 FROM generate_series(1, 300) g;
            ANALYZE;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.events", "public.keyed", "public.animals", "public.vehicles"], DestinationKinds.All,
            "--Backfill:BatchSize=500");

        var tables = await s.Http.GetOkAsync($"/api/v1/sources/{s.SourceId}/tables");
        var listed = tables.AsArray().Select(t => (string)t!["table_name"]!).ToList();
        Assert.Contains("public.events", listed);
        Assert.DoesNotContain("public.events_2023_eu", listed);
        Assert.InRange((long)tables.AsArray().Single(t => (string)t!["table_name"]! == "public.events")!["estimated_rows"]!, 5000, 7000);
        var withPartitions = await s.Http.GetOkAsync($"/api/v1/sources/{s.SourceId}/tables?include_partitions=true");
        Assert.Contains("public.events_2023_eu", withPartitions.AsArray().Select(t => (string)t!["table_name"]!));

        foreach (var (table, expected, filter) in new (string, long, object[])[]
        {
            ("events", 6000, []),
            ("keyed", 3000, []),
            ("animals", 2100, []),
            ("vehicles", 1100, []),
            ("events", 2000, [Filter("region", "=", "eu")]),
        })
        {
            var id = await s.StartBackfillAsync($"public.{table}", filter);
            var job = await s.Http.WaitForJobAsync(id, Timeout, "COMPLETED", "FAILED");
            Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
            Assert.Equal(expected, (long)job["total_record"]!);
            Assert.Equal(expected, (long)job["count_record"]!);
            var rows = await TableContents.FromPostgresAsync(s.SourceDb, "public", table, filter.Length > 0 ? "region = 'eu'" : null);
            Assert.Equal(expected, rows.Count);
            Assert.Equal(rows, await TableContents.FromDuckDbAsync(s.SourceDb, "public", table, null,
                $"read_parquet('{s.ParquetDirectory}/{table}/{id}/*.parquet')"));
            if (filter.Length > 0) continue;
            Assert.Equal(rows, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", table));
            Assert.Equal(rows, await TableContents.FromDuckDbAsync(s.SourceDb, "public", table, s.DuckDbPath, $"main.{table}"));
        }
    }

    /// <summary>
    /// money counts units of the session's <c>lc_monetary</c>: a target database whose locale keeps no decimal places would
    /// round 12.34 to 12. Such a value fails the job by name before its batch is written; whole amounts arrive exactly.
    /// </summary>
    [Fact]
    public async Task Money_IntoATargetWhoseLcMonetaryKeepsNoDecimals_FailsNamingTheValue_WholeAmountsArriveExactly()
    {
        const string sql = """
            CREATE TABLE wallets (id int PRIMARY KEY, balance money);
            INSERT INTO wallets VALUES (1, 1200), (2, NULL), (3, -75);
            CREATE TABLE tips (id int PRIMARY KEY, amount money);
            INSERT INTO tips VALUES (1, 5), (2, 12.34);
            CREATE TABLE fees (id int PRIMARY KEY, amount money);
            INSERT INTO fees VALUES (1, 5), (2, 12.34);
            CREATE TABLE purses (id int PRIMARY KEY, amounts money[]);
            INSERT INTO purses VALUES (1, '{5,1200}'), (2, NULL), (3, '{}'), (4, '{-75,NULL}');
            """;
        await using var s = await CreateAsync(pg, sql, ["public.wallets", "public.tips", "public.fees", "public.purses"], DestinationKinds.Postgres);
        // A target made before with a numeric column: the merge went through money there too, and stored 12.00.
        await PostgresServer.ExecuteAsync(s.DestinationDb, "CREATE SCHEMA copy; CREATE TABLE copy.fees (id int PRIMARY KEY, amount numeric(12,2))");
        var database = new NpgsqlConnectionStringBuilder(s.DestinationDb).Database;
        try
        {
            await PostgresServer.ExecuteAsync(s.DestinationDb, $"ALTER DATABASE \"{database}\" SET lc_monetary = 'ja_JP.utf8'");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidParameterValue)
        {
            Assert.Fail($"This machine lacks the ja_JP.UTF-8 locale the test needs (.ci/run makes it: localedef -i ja_JP -f UTF-8 ja_JP.UTF-8): {e.MessageText}");
        }
        // Sessions opened before keep the old lc_monetary (and would read the yen amounts as cents).
        NpgsqlConnection.ClearAllPools();

        var whole = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.wallets"), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)whole["status"]!, whole.ToJsonString());
        Assert.Equal("1:1200,2:null,3:-75", await PostgresServer.ScalarAsync<string>(s.DestinationDb,
            "SELECT string_agg(id || ':' || coalesce(balance::numeric::text, 'null'), ',' ORDER BY id) FROM copy.wallets"));

        // money[] too: its text, '{$5.00,"$1,200.00"}', was read by the target under its own lc_monetary.
        var purses = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.purses"), Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)purses["status"]!, purses.ToJsonString());
        // Compared without trailing zeros: money turns into numeric with its locale's decimal places.
        static string Amounts(string table) => "SELECT string_agg(id || ':' || CASE WHEN amounts IS NULL THEN 'null' ELSE '[' || coalesce((SELECT " +
            "string_agg(coalesce(trim_scale(x)::text, 'null'), ';' ORDER BY o) FROM unnest(amounts::numeric[]) WITH ORDINALITY AS u(x, o)), '') || ']' END, " +
            $"',' ORDER BY id) FROM {table}";
        Assert.Equal(await PostgresServer.ScalarAsync<string>(s.SourceDb, Amounts("public.purses")),
            await PostgresServer.ScalarAsync<string>(s.DestinationDb, Amounts("copy.purses")));

        var cents = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.tips"), Timeout, "COMPLETED", "FAILED");
        Assert.Equal("FAILED", (string)cents["status"]!);
        var message = (string)cents["error_message"]!;
        Assert.Contains("public.tips", message);
        Assert.Contains("\"amount\"", message);
        Assert.Contains("'12.34'", message);
        Assert.Contains("lc_monetary (ja_JP.utf8)", message);
        Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.tips"));

        var fees = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.fees"), Timeout, "COMPLETED", "FAILED");
        Assert.True("FAILED" == (string)fees["status"]!, fees.ToJsonString());
        Assert.Contains("'12.34'", (string)fees["error_message"]!);
        Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.fees"));
    }
}
