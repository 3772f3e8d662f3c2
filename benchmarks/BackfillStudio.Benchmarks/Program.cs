using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Benchmarks;
using BackfillStudio.Web;
using BackfillStudio.Web.Hosting;
using Npgsql;

// Backfill throughput benchmark: for each N, copies an N-row, 10-column table to the postgres, duckdb, parquet and (emulated) snowflake
// destinations through the real app (its own process, so its peak RSS is the engine's), beside baselines measured in the
// same run on the same cluster: `psql \copy ... | psql \copy ...` for postgres, the source's binary COPY into /dev/null
// (the read limit) for duckdb and parquet, and a filtered pipe for a job whose filter matches 10 % of the rows through an
// index. Then --wide-rows rows of about 1 MB each (default 300; 0 skips) are copied to each destination, and the engine's
// peak RSS is printed beside the bound 2 x Backfill:BatchMaxBytes + 300 MiB. After the duckdb job, DuckDB alone writes the rows
// it copied again from memory, into a DuckDB file and into Parquet files in the engine's batches (DestinationFloor): the
// fastest those destinations can take them on this machine. PostgreSQL → PostgreSQL also runs split into each of
// --chunks parallel chunks (default 1,2,4; each chunk count also the engine's Backfill:MaxConcurrentJobs, so all run at once). The table and a chart go to docs/benchmarks.md
// and docs/benchmarks.svg, the runs' core-seconds to docs/benchmarks-cpu.svg (--no-docs leaves them alone).
var rowCounts = (args.SkipWhile(a => a != "--rows").Skip(1).FirstOrDefault() ?? "500000,2000000")
    .Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture)).ToArray();
// --destinations postgres,duckdb limits the runs to some destinations; snowflake runs on the SQL API emulator (the smallest
// table only) and counts its statement requests.
var destinations = (args.SkipWhile(a => a != "--destinations").Skip(1).FirstOrDefault() ?? "postgres,duckdb,parquet,snowflake").Split(',');
var writeDocs = !args.Contains("--no-docs");
var chunkCounts = (args.SkipWhile(a => a != "--chunks").Skip(1).FirstOrDefault() ?? "1,2,4")
    .Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture)).ToArray();
var wideRows = int.Parse(args.SkipWhile(a => a != "--wide-rows").Skip(1).FirstOrDefault() ?? "300", CultureInfo.InvariantCulture);
const long batchMaxBytes = 64L * 1024 * 1024;
var wideResults = new List<(string Destination, long PeakBytes, TimeSpan Elapsed, string? Failure)>();
var pickups = new List<TimeSpan>();
var checkpointDelays = new List<(TimeSpan Median, TimeSpan Max)>();
var snowflakeRequests = new List<string>();
var folder = Path.Combine(Path.GetTempPath(), $"backfill-bench-{Guid.NewGuid():N}");
Directory.CreateDirectory(folder);
if (Environment.UserName == "root") await ProcessRunner.RunAsync("chmod", ["755", folder]);
var cluster = await LocalPostgresCluster.StartAsync(Path.Combine(folder, "pg"), FreePort(), throwaway: true);
var results = new List<Result>();
const string ReadLimit = "read limit: COPY TO /dev/null";
const string Pipe = "psql \\copy | psql \\copy";
const string FilteredPipe = "psql \\copy (where ...) | psql";
const int FilteredBelow = 10_000;
// Each run's app is a fresh process; a small job into the same destination first warms it (JIT, connection pools, the
// config database's queries) as a long-running engine is, so the timed job's figure is the copy's, not the process start's.
const string WarmUpTable = "bench_warmup";
const int WarmUpRows = 1_000;
try
{
    foreach (var rows in rowCounts)
    {
        Console.WriteLine($"Preparing a source table of {rows:N0} rows...");
        var source = await NewDatabaseAsync(cluster, $"source_{rows}");
        await ExecuteAsync(source, BenchmarkTable.CreateSql("bench_rows", rows) + BenchmarkTable.CreateSql(WarmUpTable, WarmUpRows));
        await BenchmarkTable.SettleAsync(source, "bench_rows", WarmUpTable);

        // Both sides warm: the pipe and the read limit read the table once before they are timed.
        await PsqlPipe.ReadLimitAsync(cluster, source, "select * from bench_rows");
        var readLimitCpu = CpuMeter.Start();
        var readLimit = await PsqlPipe.ReadLimitAsync(cluster, source, "select * from bench_rows");
        results.Add(new Result(rows, rows, ReadLimit, readLimit, null, null, readLimitCpu.Stop()));
        var baselineTarget = await NewDatabaseAsync(cluster, $"baseline_{rows}");
        await ExecuteAsync(baselineTarget, BenchmarkTable.CreateSql("bench_rows", 0));
        var baselineCpu = CpuMeter.Start();
        var baseline = await PsqlPipe.RunAsync(cluster, source, baselineTarget, "bench_rows", "select * from bench_rows");
        results.Add(new Result(rows, rows, Pipe, baseline, null, null, baselineCpu.Stop()));
        Console.WriteLine($"  read limit {readLimit.TotalSeconds:F2} s, psql pipe {baseline.TotalSeconds:F2} s");

        foreach (var destination in destinations)
        {
            if (destination == "snowflake")
            {
                // The emulator runs statements one at a time on DuckDB (about 3,000 rows/s): only the smallest table goes there.
                if (rows != rowCounts.Min()) continue;
                await using var snowflake = await EmulatedSnowflake.StartAsync();
                var (copy, snowflakePeak, _, _, _, _, _) = await RunBackfillAsync(cluster, source, "bench_rows", destination, rows, rows, folder, verify: false,
                    snowflakeConfig: snowflake.Config);
                // Not in the table: a ratio of the emulator's speed would say nothing about Snowflake's.
                var requests = snowflake.StatementRequests("bench_rows");
                var perHundredThousand = requests * 100_000.0 / rows;
                snowflakeRequests.Add($"{perHundredThousand:F1} at {rows:N0} rows ({copy.TotalSeconds:F0} s on the emulator, peak RSS {snowflakePeak / 1048576} MiB)");
                Console.WriteLine($"  snowflake (emulator): {copy.TotalSeconds:F2} s, peak RSS {snowflakePeak / 1048576.0:F0} MiB, {requests} statement requests ({perHundredThousand:F1} per 100k rows)");
                continue;
            }
            var (elapsed, peak, verifyCount, verifyChecksum, pickup, seen, cpu) = await RunBackfillAsync(cluster, source, "bench_rows", destination, rows, rows, folder, verify: true);
            pickups.Add(pickup);
            if (seen is { } delays) checkpointDelays.Add(delays);
            var against = destination == "postgres" ? Pipe : ReadLimit;
            results.Add(new Result(rows, rows, $"BackfillStudio → {destination}", elapsed, peak, against, cpu));
            results.Add(new Result(rows, rows, $"  verify count ({destination})", verifyCount, null, against));
            results.Add(new Result(rows, rows, $"  verify checksum ({destination})", verifyChecksum, null, against));
            Console.WriteLine($"  {destination}: {elapsed.TotalSeconds:F2} s (picked up {pickup.TotalMilliseconds:F0} ms after the POST), peak RSS {peak / 1048576.0:F0} MiB; " +
                              $"verify count {verifyCount.TotalSeconds:F2} s, checksum {verifyChecksum.TotalSeconds:F2} s; " +
                              $"checkpoints seen by a listening node after {seen?.Median.TotalMilliseconds:F0} ms (median), {seen?.Max.TotalMilliseconds:F0} ms (max)");
            if (destination == "duckdb")
            {
                var (duckDbFloor, parquetFloor) = DestinationFloor.Measure(Path.Combine(folder, $"bench_rows_{rows}.duckdb"), "bench_rows", rows, ReadLimit, folder);
                results.AddRange([duckDbFloor, parquetFloor]);
                Console.WriteLine($"  DuckDB alone, from memory in {DestinationFloor.BatchRows:N0}-row batches: into a DuckDB file {duckDbFloor.Elapsed.TotalSeconds:F2} s, " +
                                  $"into Parquet files {parquetFloor.Elapsed.TotalSeconds:F2} s");
            }
            if (destination != "postgres") continue;
            foreach (var chunks in chunkCounts)
            {
                var (split, splitPeak, _, _, _, _, splitCpu) = await RunBackfillAsync(cluster, source, "bench_rows", destination, rows, rows, folder, verify: false, chunks: chunks);
                results.Add(new Result(rows, rows, $"BackfillStudio → postgres, {chunks} chunk{(chunks == 1 ? "" : "s")}", split, splitPeak, Pipe, splitCpu));
                Console.WriteLine($"  postgres in {chunks} parallel chunks: {split.TotalSeconds:F2} s, peak RSS {splitPeak / 1048576.0:F0} MiB");
            }
        }

        // A job whose filter matches 10 % of the rows through an index, beside the same SELECT piped by psql.
        await ExecuteAsync(source, "CREATE INDEX IF NOT EXISTS bench_rows_customer ON bench_rows (customer_id); ANALYZE bench_rows");
        var matching = await ScalarAsync(source, $"SELECT count(*) FROM bench_rows WHERE customer_id < {FilteredBelow}");
        var filteredTarget = await NewDatabaseAsync(cluster, $"baseline_filtered_{rows}");
        await ExecuteAsync(filteredTarget, BenchmarkTable.CreateSql("bench_rows", 0));
        var filteredPipeCpu = CpuMeter.Start();
        var filteredPipe = await PsqlPipe.RunAsync(cluster, source, filteredTarget, "bench_rows", $"select * from bench_rows where customer_id < {FilteredBelow}");
        results.Add(new Result(rows, matching, FilteredPipe, filteredPipe, null, null, filteredPipeCpu.Stop()));
        var (filteredJob, filteredPeak, _, _, _, _, filteredCpu) = await RunBackfillAsync(cluster, source, "bench_rows", "postgres", rows, matching, folder, verify: false,
            filter: new { column = "customer_id", @operator = "<", value = FilteredBelow.ToString(CultureInfo.InvariantCulture) });
        results.Add(new Result(rows, matching, "BackfillStudio → postgres, filtered", filteredJob, filteredPeak, FilteredPipe, filteredCpu));
        Console.WriteLine($"  filtered ({matching:N0} rows): psql pipe {filteredPipe.TotalSeconds:F2} s, job {filteredJob.TotalSeconds:F2} s");
    }
    if (wideRows > 0)
    {
        Console.WriteLine($"Preparing a source table of {wideRows:N0} rows of about 1 MB...");
        var wide = await NewDatabaseAsync(cluster, "source_wide");
        await ExecuteAsync(wide, BenchmarkTable.CreateWideSql("bench_wide", wideRows) + BenchmarkTable.CreateSql(WarmUpTable, WarmUpRows));
        await BenchmarkTable.SettleAsync(wide, "bench_wide", WarmUpTable);
        foreach (var destination in destinations.Where(d => d != "snowflake"))
        {
            try
            {
                var (elapsed, peak, _, _, _, _, _) = await RunBackfillAsync(cluster, wide, "bench_wide", destination, wideRows, wideRows, folder, verify: false);
                wideResults.Add((destination, peak, elapsed, null));
                Console.WriteLine($"  1 MB rows → {destination}: {elapsed.TotalSeconds:F2} s, peak RSS {peak / 1048576.0:F0} MiB");
            }
            catch (BenchmarkJobFailedException e)
            {
                wideResults.Add((destination, 0, TimeSpan.Zero, e.Message));
                Console.WriteLine($"  1 MB rows → {destination}: {e.Message}");
            }
        }
    }
}
finally
{
    await cluster.StopAsync();
    Directory.Delete(folder, recursive: true);
}

var report = BenchmarkReport.Table(results);
var timings = new List<string>();
if (pickups.Count > 0)
    timings.Add($"job pickup after POST (created_at to started_at): {string.Join(", ", pickups.Select(p => $"{p.TotalMilliseconds:F0} ms"))}");
if (checkpointDelays.Count > 0)
    timings.Add("checkpoint seen by a node listening on the config database, median / max per job: " +
                string.Join(", ", checkpointDelays.Select(d => $"{d.Median.TotalMilliseconds:F0} / {d.Max.TotalMilliseconds:F0} ms")));
if (snowflakeRequests.Count > 0)
    timings.Add($"Snowflake statement requests per 100k rows (SQL API emulator; INSERTs packed to 1 MiB, 4 in flight): {string.Join(", ", snowflakeRequests)}");
var wideReport = new StringBuilder();
if (wideResults.Count > 0)
{
    var bound = (2 * batchMaxBytes + 300L * 1024 * 1024) / 1048576;
    wideReport.AppendLine(CultureInfo.InvariantCulture, $"{wideRows:N0} rows of about 1 MB (2 MiB decoded), Backfill:BatchMaxBytes = {batchMaxBytes / 1048576} MiB: bound {bound} MiB");
    foreach (var (destination, peakBytes, elapsed, failure) in wideResults)
        wideReport.AppendLine(failure is not null
            ? $"  BackfillStudio → {destination,-10} {failure}"
            : $"  BackfillStudio → {destination,-10} {elapsed.TotalSeconds,8:F2} s  peak RSS {peakBytes / 1048576,6} MiB  {(peakBytes / 1048576 <= bound ? "within" : "OVER")} the bound");
}
Console.WriteLine();
Console.WriteLine(report);
timings.ForEach(Console.WriteLine);
Console.WriteLine();
Console.WriteLine(wideReport);
if (writeDocs)
{
    var docs = Path.Combine(Environment.CurrentDirectory, "docs");
    await File.WriteAllTextAsync(Path.Combine(docs, "benchmarks.svg"), BenchmarkReport.Chart(results));
    await File.WriteAllTextAsync(Path.Combine(docs, "benchmarks-cpu.svg"), BenchmarkReport.CpuChart(results));
    await File.WriteAllTextAsync(Path.Combine(docs, "benchmarks.md"), BenchmarkReport.Markdown(string.Join(" ", args), report, timings, wideReport.ToString()) + "\n");
    Console.WriteLine($"Wrote {Path.GetFullPath(Path.Combine(docs, "benchmarks.md"))}, benchmarks.svg and benchmarks-cpu.svg");
}
return;

// The copy runs without verify-after-load, so its time is the copy's alone; then the same job is verified by count and
// by checksum (each timed from the request to MATCHED).
// chunks: the job is split into that many chunks (whatever the table's size), all run at once by the engine; null: the defaults.
static async Task<JobRun> RunBackfillAsync(LocalPostgresCluster cluster,
    string source, string table, string destination, int rows, long expected, string folder, bool verify, object? filter = null,
    JsonObject? snowflakeConfig = null, int? chunks = null)
{
    var variant = (filter is null ? "" : "_filtered") + (chunks is { } n ? $"_c{n}" : "");
    var config = await NewDatabaseAsync(cluster, $"config_{table}_{destination}_{rows}{variant}");
    var port = FreePort();
    // A throwaway admin key for this run's own app; it is never stored anywhere.
    var apiKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
    var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
    // BENCH_VERBOSE=1 prints the engine's per-batch timings (read wait, write, checkpoint).
    var verbose = Environment.GetEnvironmentVariable("BENCH_VERBOSE") == "1";
    foreach (var a in new[] { typeof(BackfillStudioApp).Assembly.Location, $"--ConnectionStrings:Config={config}", $"--urls=http://127.0.0.1:{port}",
                 "--Logging:LogLevel:Default=Warning", $"--Logging:LogLevel:BackfillStudio.Engine.Jobs.JobRunner={(verbose ? "Debug" : "Warning")}", "--Backfill:PollIntervalSeconds=1", $"--Auth:BootstrapApiKey={apiKey}" })
        info.ArgumentList.Add(a);
    if (chunks is { } parallel)
        foreach (var a in new[] { "--Backfill:MinChunkRows=1", $"--Backfill:MaxConcurrentJobs={parallel}" }) info.ArgumentList.Add(a);
    // BENCH_ENGINE_SETTINGS="Backfill:BatchSize=50000 ..." passes settings to every engine the runs start, to compare them.
    foreach (var a in (Environment.GetEnvironmentVariable("BENCH_ENGINE_SETTINGS") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        info.ArgumentList.Add("--" + a);
    using var app = Process.Start(info)!;
    app.OutputDataReceived += (_, e) => { if (e.Data is not null && verbose) Console.WriteLine(e.Data); };
    app.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine(e.Data); };
    app.BeginOutputReadLine();
    app.BeginErrorReadLine();
    try
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        await WaitForAppAsync(http);
        await using var checkpoints = await CheckpointWatch.StartAsync(config);
        var src = new NpgsqlConnectionStringBuilder(source);
        var sourceId = await PostAsync(http, "/api/v1/sources", new { name = "bench", host = src.Host, port = src.Port, database = src.Database, username = src.Username, password = src.Password, ssl_mode = "disable" });
        JsonObject destinationConfig;
        if (destination == "postgres")
        {
            var target = new NpgsqlConnectionStringBuilder(await NewDatabaseAsync(cluster, $"target_{table}_{rows}{variant}"));
            destinationConfig = new JsonObject { ["host"] = target.Host, ["port"] = target.Port, ["database"] = target.Database, ["username"] = target.Username, ["password"] = target.Password, ["ssl_mode"] = "disable" };
        }
        else
        {
            destinationConfig = snowflakeConfig ?? new JsonObject { ["path"] = Path.Combine(folder, $"{table}_{rows}.{destination}") };
        }
        var destinationId = await PostAsync(http, "/api/v1/destinations", new { name = destination, type = destination, config = destinationConfig });
        var pipelineId = await PostAsync(http, "/api/v1/pipelines", new { name = "bench", source_id = sourceId, destination_ids = new[] { destinationId },
            tables = new[] { new { table_name = $"public.{table}" }, new { table_name = $"public.{WarmUpTable}" } } });
        var warmUp = await PostAsync(http, $"/api/v1/pipelines/{pipelineId}/backfill", new { table_name = $"public.{WarmUpTable}", verify = "none" });
        var warmUpDeadline = Stopwatch.StartNew();
        while ((string)(await http.GetFromJsonAsync<JsonObject>($"/api/v1/backfill/{warmUp}"))!["status"]! is var warmUpStatus && warmUpStatus != "COMPLETED")
        {
            if (warmUpStatus is "FAILED" or "CANCELLED") throw new BenchmarkJobFailedException($"the warm-up job ended {warmUpStatus}");
            if (warmUpDeadline.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException("The warm-up job did not complete within 2 minutes.");
            await Task.Delay(100);
        }
        checkpoints.Clear();
        var cpu = CpuMeter.Start(app);
        var jobId = await PostAsync(http, $"/api/v1/pipelines/{pipelineId}/backfill",
            new { table_name = $"public.{table}", verify = "none", filters = filter is null ? Array.Empty<object>() : [filter], parallel_chunks = chunks });
        while (true)
        {
            var job = (await http.GetFromJsonAsync<JsonObject>($"/api/v1/backfill/{jobId}"))!;
            var status = (string)job["status"]!;
            if (status == "COMPLETED")
            {
                var cpuUse = cpu.Stop();
                if ((long)job["count_record"]! != expected) throw new InvalidOperationException($"copied {job["count_record"]} rows, expected {expected}");
                var elapsed = DateTimeOffset.Parse((string)job["finished_at"]!, CultureInfo.InvariantCulture) - DateTimeOffset.Parse((string)job["started_at"]!, CultureInfo.InvariantCulture);
                var peak = PeakResidentBytes(app.Id);
                var pickup = DateTimeOffset.Parse((string)job["started_at"]!, CultureInfo.InvariantCulture) - DateTimeOffset.Parse((string)job["created_at"]!, CultureInfo.InvariantCulture);
                var seen = checkpoints.Delays();
                return verify
                    ? new JobRun(elapsed, peak, await VerifyAsync(http, jobId, "count"), await VerifyAsync(http, jobId, "checksum"), pickup, seen, cpuUse)
                    : new JobRun(elapsed, peak, default, default, pickup, seen, cpuUse);
            }
            if (status is "FAILED" or "CANCELLED") throw new BenchmarkJobFailedException($"the job ended {status}: {((string?)job["error_message"])?.Split('\n')[0]}");
            await checkpoints.ChangedAsync(TimeSpan.FromSeconds(1));
        }
    }
    finally
    {
        app.Kill(entireProcessTree: true);
        await app.WaitForExitAsync();
    }
}

static async Task<TimeSpan> VerifyAsync(HttpClient http, int jobId, string mode)
{
    var clock = Stopwatch.StartNew();
    var response = await http.PostAsJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode });
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"verify: {await response.Content.ReadAsStringAsync()}");
    while (true)
    {
        var verification = (await http.GetFromJsonAsync<JsonObject>($"/api/v1/backfill/{jobId}"))!["verification"]!;
        var status = (string)verification["status"]!;
        if (status == "MATCHED") return clock.Elapsed;
        if (status is "MISMATCH" or "FAILED") throw new InvalidOperationException($"verification ended {status}: {verification.ToJsonString()}");
        await Task.Delay(100);
    }
}

static long PeakResidentBytes(int pid)
{
    var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}

static async Task WaitForAppAsync(HttpClient http)
{
    for (var i = 0; i < 600; i++)
    {
        try
        {
            if ((await http.GetAsync("/api/v1/pipelines")).IsSuccessStatusCode) return;
        }
        catch (HttpRequestException)
        {
        }
        await Task.Delay(100);
    }
    throw new TimeoutException("The app did not start.");
}

static async Task<int> PostAsync(HttpClient http, string path, object body)
{
    var response = await http.PostAsJsonAsync(path, body, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
    var text = await response.Content.ReadAsStringAsync();
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST {path}: {text}");
    return (int)JsonNode.Parse(text)!["id"]!;
}

static async Task<string> NewDatabaseAsync(LocalPostgresCluster cluster, string name)
{
    await cluster.CreateDatabaseIfMissingAsync(name);
    return cluster.ConnectionString(name);
}

static async Task ExecuteAsync(string connectionString, string sql)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var cmd = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
    await cmd.ExecuteNonQueryAsync();
}

static async Task<long> ScalarAsync(string connectionString, string sql)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var cmd = new NpgsqlCommand(sql, connection);
    return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
}

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}

/// <summary>
/// One timed run over a table of <paramref name="TableRows"/> rows that moved <paramref name="Rows"/>; its ratio is against
/// the run named <paramref name="Against"/>. <paramref name="Cpu"/>: the cores it kept busy (not measured for verifications).
/// </summary>
/// <param name="IsFloor">A destination's own work without the engine (<see cref="DestinationFloor"/>), not a job.</param>
internal sealed record Result(int TableRows, long Rows, string Run, TimeSpan Elapsed, long? PeakBytes, string? Against, CpuUse? Cpu = null,
    bool IsFloor = false)
{
    public double RowsPerSecond => Rows / Elapsed.TotalSeconds;
}

/// <summary>
/// One job's figures; <paramref name="CheckpointSeen"/>: how long after each checkpoint a listening node heard of it;
/// <paramref name="Cpu"/>: from the job's POST until it was seen COMPLETED.
/// </summary>
internal sealed record JobRun(TimeSpan Elapsed, long PeakBytes, TimeSpan VerifyCount, TimeSpan VerifyChecksum, TimeSpan Pickup,
    (TimeSpan Median, TimeSpan Max)? CheckpointSeen, CpuUse Cpu);

internal sealed class BenchmarkJobFailedException(string message) : Exception(message);
