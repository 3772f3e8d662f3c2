using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Benchmarks;
using BackfillStudio.Web;
using BackfillStudio.Web.Hosting;
using Npgsql;

// Backfill throughput benchmark: for each N, copies an N-row, 10-column table to the postgres and
// duckdb destinations through the real app (its own process, so its peak RSS is the engine's), and
// measures `psql \copy ... | psql \copy ...` between the same databases as the baseline. Then --wide-rows rows of about
// 1 MB each (default 300; 0 skips) are copied to each destination, and the engine's peak RSS is printed beside the bound
// 2 x Backfill:BatchMaxBytes + 300 MiB.
var rowCounts = (args.SkipWhile(a => a != "--rows").Skip(1).FirstOrDefault() ?? "500000,2000000")
    .Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture)).ToArray();
// --destinations postgres,duckdb (the default) limits the runs to some destinations.
var destinations = (args.SkipWhile(a => a != "--destinations").Skip(1).FirstOrDefault() ?? "postgres,duckdb").Split(',');
var wideRows = int.Parse(args.SkipWhile(a => a != "--wide-rows").Skip(1).FirstOrDefault() ?? "300", CultureInfo.InvariantCulture);
const long batchMaxBytes = 64L * 1024 * 1024;
var wideResults = new List<(string Destination, long PeakBytes, TimeSpan Elapsed, string? Failure)>();
var pickups = new List<TimeSpan>();
var folder = Path.Combine(Path.GetTempPath(), $"backfill-bench-{Guid.NewGuid():N}");
Directory.CreateDirectory(folder);
if (Environment.UserName == "root") await ProcessRunner.RunAsync("chmod", ["755", folder]);
var cluster = await LocalPostgresCluster.StartAsync(Path.Combine(folder, "pg"), FreePort(), throwaway: true);
var results = new List<Result>();
try
{
    foreach (var rows in rowCounts)
    {
        Console.WriteLine($"Preparing a source table of {rows:N0} rows...");
        var source = await NewDatabaseAsync(cluster, $"source_{rows}");
        await ExecuteAsync(source, BenchmarkTable.CreateSql("bench_rows", rows));

        var baselineTarget = await NewDatabaseAsync(cluster, $"baseline_{rows}");
        await ExecuteAsync(baselineTarget, BenchmarkTable.CreateSql("bench_rows", 0));
        var baseline = await PsqlPipe.RunAsync(cluster, source, baselineTarget, "bench_rows");
        results.Add(new Result(rows, "psql \\copy | psql \\copy", baseline, null));
        Console.WriteLine($"  baseline: {baseline.TotalSeconds:F2} s");

        foreach (var destination in destinations)
        {
            var (elapsed, peak, verifyCount, verifyChecksum, pickup) = await RunBackfillAsync(cluster, source, "bench_rows", destination, rows, folder, verify: true);
            pickups.Add(pickup);
            results.Add(new Result(rows, $"BackfillStudio → {destination}", elapsed, peak));
            results.Add(new Result(rows, $"  verify count ({destination})", verifyCount, null));
            results.Add(new Result(rows, $"  verify checksum ({destination})", verifyChecksum, null));
            Console.WriteLine($"  {destination}: {elapsed.TotalSeconds:F2} s (picked up {pickup.TotalMilliseconds:F0} ms after the POST), peak RSS {peak / 1048576.0:F0} MiB; " +
                              $"verify count {verifyCount.TotalSeconds:F2} s, checksum {verifyChecksum.TotalSeconds:F2} s");
        }
    }
    if (wideRows > 0)
    {
        Console.WriteLine($"Preparing a source table of {wideRows:N0} rows of about 1 MB...");
        var wide = await NewDatabaseAsync(cluster, "source_wide");
        await ExecuteAsync(wide, BenchmarkTable.CreateWideSql("bench_wide", wideRows));
        foreach (var destination in destinations)
        {
            try
            {
                var (elapsed, peak, _, _, _) = await RunBackfillAsync(cluster, wide, "bench_wide", destination, wideRows, folder, verify: false);
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

Console.WriteLine();
Console.WriteLine($"{"rows",10}  {"run",-32} {"seconds",8} {"rows/s",10} {"peak RSS",10} {"vs baseline",12}");
foreach (var group in results.GroupBy(r => r.Rows))
{
    var baselineRate = group.First().Rows / group.First().Elapsed.TotalSeconds;
    foreach (var r in group)
    {
        var rate = r.Rows / r.Elapsed.TotalSeconds;
        var peak = r.PeakBytes is { } p ? $"{p / 1048576.0:F0} MiB" : "-";
        Console.WriteLine($"{r.Rows,10:N0}  {r.Run,-32} {r.Elapsed.TotalSeconds,8:F2} {rate,10:N0} {peak,10} {rate / baselineRate,11:F2}x");
    }
}
if (pickups.Count > 0)
    Console.WriteLine($"job pickup after POST (created_at to started_at): {string.Join(", ", pickups.Select(p => $"{p.TotalMilliseconds:F0} ms"))}");
if (wideResults.Count > 0)
{
    var bound = (2 * batchMaxBytes + 300L * 1024 * 1024) / 1048576;
    Console.WriteLine();
    Console.WriteLine($"{wideRows:N0} rows of about 1 MB (2 MiB decoded), Backfill:BatchMaxBytes = {batchMaxBytes / 1048576} MiB: bound {bound} MiB");
    foreach (var (destination, peakBytes, elapsed, failure) in wideResults)
        Console.WriteLine(failure is not null
            ? $"  BackfillStudio → {destination,-10} {failure}"
            : $"  BackfillStudio → {destination,-10} {elapsed.TotalSeconds,8:F2} s  peak RSS {peakBytes / 1048576,6} MiB  {(peakBytes / 1048576 <= bound ? "within" : "OVER")} the bound");
}
return;

// The copy runs without verify-after-load, so its time is the copy's alone; then the same job is verified by count and
// by checksum (each timed from the request to MATCHED).
static async Task<(TimeSpan Elapsed, long PeakBytes, TimeSpan VerifyCount, TimeSpan VerifyChecksum, TimeSpan Pickup)> RunBackfillAsync(LocalPostgresCluster cluster,
    string source, string table, string destination, int rows, string folder, bool verify)
{
    var config = await NewDatabaseAsync(cluster, $"config_{table}_{destination}_{rows}");
    var port = FreePort();
    // A throwaway admin key for this run's own app; it is never stored anywhere.
    var apiKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
    var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
    // BENCH_VERBOSE=1 prints the engine's per-batch timings (read wait, write, checkpoint).
    var verbose = Environment.GetEnvironmentVariable("BENCH_VERBOSE") == "1";
    foreach (var a in new[] { typeof(BackfillStudioApp).Assembly.Location, $"--ConnectionStrings:Config={config}", $"--urls=http://127.0.0.1:{port}",
                 "--Logging:LogLevel:Default=Warning", $"--Logging:LogLevel:BackfillStudio.Engine.Jobs.JobRunner={(verbose ? "Debug" : "Warning")}", "--Backfill:PollIntervalSeconds=1", $"--Auth:BootstrapApiKey={apiKey}" })
        info.ArgumentList.Add(a);
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
        var src = new NpgsqlConnectionStringBuilder(source);
        var sourceId = await PostAsync(http, "/api/v1/sources", new { name = "bench", host = src.Host, port = src.Port, database = src.Database, username = src.Username, password = src.Password, ssl_mode = "disable" });
        JsonObject destinationConfig;
        if (destination == "postgres")
        {
            var target = new NpgsqlConnectionStringBuilder(await NewDatabaseAsync(cluster, $"target_{table}_{rows}"));
            destinationConfig = new JsonObject { ["host"] = target.Host, ["port"] = target.Port, ["database"] = target.Database, ["username"] = target.Username, ["password"] = target.Password, ["ssl_mode"] = "disable" };
        }
        else
        {
            destinationConfig = new JsonObject { ["path"] = Path.Combine(folder, $"{table}_{rows}.duckdb") };
        }
        var destinationId = await PostAsync(http, "/api/v1/destinations", new { name = destination, type = destination, config = destinationConfig });
        var pipelineId = await PostAsync(http, "/api/v1/pipelines", new { name = "bench", source_id = sourceId, destination_ids = new[] { destinationId }, tables = new[] { new { table_name = $"public.{table}" } } });
        var jobId = await PostAsync(http, $"/api/v1/pipelines/{pipelineId}/backfill", new { table_name = $"public.{table}", verify = "none" });
        while (true)
        {
            var job = (await http.GetFromJsonAsync<JsonObject>($"/api/v1/backfill/{jobId}"))!;
            var status = (string)job["status"]!;
            if (status == "COMPLETED")
            {
                if ((long)job["count_record"]! != rows) throw new InvalidOperationException($"copied {job["count_record"]} rows, expected {rows}");
                var elapsed = DateTimeOffset.Parse((string)job["finished_at"]!, CultureInfo.InvariantCulture) - DateTimeOffset.Parse((string)job["started_at"]!, CultureInfo.InvariantCulture);
                var peak = PeakResidentBytes(app.Id);
                var pickup = DateTimeOffset.Parse((string)job["started_at"]!, CultureInfo.InvariantCulture) - DateTimeOffset.Parse((string)job["created_at"]!, CultureInfo.InvariantCulture);
                return verify
                    ? (elapsed, peak, await VerifyAsync(http, jobId, "count"), await VerifyAsync(http, jobId, "checksum"), pickup)
                    : (elapsed, peak, default, default, pickup);
            }
            if (status is "FAILED" or "CANCELLED") throw new BenchmarkJobFailedException($"the job ended {status}: {((string?)job["error_message"])?.Split('\n')[0]}");
            await Task.Delay(100);
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

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}

internal sealed record Result(int Rows, string Run, TimeSpan Elapsed, long? PeakBytes);

internal sealed class BenchmarkJobFailedException(string message) : Exception(message);
