using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Schedules;

/// <summary>Scheduled backfills: one job per occurrence across engines, relative filters resolved, skip while running, pause.</summary>
public sealed class ScheduleTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string Zone = "Pacific/Kiritimati";

    // Days from ten back to four ahead of today in the schedule's zone (UTC+14, so often not UTC's day), instants likewise.
    private const string EventsSql = """
        CREATE TABLE events (id int PRIMARY KEY, day date NOT NULL, at timestamptz NOT NULL, kind text NOT NULL);
        INSERT INTO events
        SELECT g, (now() AT TIME ZONE 'Pacific/Kiritimati')::date + (g % 15 - 10), now() + (g % 15 - 10) * interval '1 day' + g * interval '1 second', 'k' || g % 3
        FROM generate_series(1, 3000) g;
        """;

    private const string BigSql = """
        CREATE TABLE big (id int PRIMARY KEY, v text, at timestamptz NOT NULL DEFAULT now());
        INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 20000) g;
        """;

    private static readonly string[] Settings = ["--Backfill:PollIntervalSeconds=1", "--Backfill:BatchSize=500"];
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task TwoEngines_EachOccurrenceCreatesExactlyOneJob_WithItsRelativeFiltersResolved()
    {
        await using var s = await Scenario.CreateAsync(pg, EventsSql, ["public.events"], DestinationKinds.Postgres, [.. Settings, "--Backfill:EngineName=engine-a"]);
        await using var peer = await s.StartPeerAsync([.. Settings, "--Backfill:EngineName=engine-b"]);
        var schedule = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/schedules", new
        {
            table_name = "public.events", cron = "*/3 * * * * *", time_zone = Zone, verify = "none",
            filters = new[] { Scenario.Filter("day", ">=", "today-3d"), Scenario.Filter("at", "<", "now"), Scenario.Filter("kind", "=", "k1") },
        });
        var id = (int)schedule["id"]!;
        Assert.Equal(["today-3d", "now", "k1"], schedule["filters"]!.AsArray().Select(f => (string)f!["value"]!));

        await WaitForRunsAsync(s, id, runs => runs.Count(r => (string)r["outcome"]! == "CREATED") >= 3, "three occurrences that created jobs");
        await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/schedules/{id}/pause", new { });
        var runs = await RunsAsync(s, id);
        var created = runs.Where(r => (string)r["outcome"]! == "CREATED").ToList();
        Assert.All(runs, r => Assert.Contains((string)r["outcome"]!, new[] { "CREATED", "SKIPPED" }));
        Assert.All(runs, r => Assert.Contains((string)r["engine"]!, new[] { "engine-a", "engine-b" }));

        // Exactly one job per occurrence that created one, and no job without its occurrence.
        var jobs = (await s.Http.GetOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill"))["items"]!.AsArray().Select(j => j!.AsObject()).ToList();
        Assert.Equal(created.Select(r => (int)r["job_id"]!).Order(), jobs.Select(j => (int)j["id"]!).Order());
        Assert.All(jobs, j => Assert.Equal(id, (int)j["schedule_id"]!));
        var zone = TimeZoneInfo.FindSystemTimeZoneById(Zone);
        // A job's lower bound is resolved at the first occurrence since the previous job (a skipped one's window is its too).
        DateTimeOffset? uncovered = null;
        foreach (var run in runs.OrderBy(r => DateTimeOffset.Parse((string)r["occurrence_at"]!, CultureInfo.InvariantCulture)))
        {
            var occurrence = DateTimeOffset.Parse((string)run["occurrence_at"]!, CultureInfo.InvariantCulture);
            if ((string)run["outcome"]! == "SKIPPED")
            {
                uncovered ??= occurrence;
                continue;
            }
            var local = TimeZoneInfo.ConvertTime(occurrence, zone);
            var from = TimeZoneInfo.ConvertTime(uncovered ?? occurrence, zone);
            uncovered = null;
            var job = jobs.Single(j => (int)j["id"]! == (int)run["job_id"]!);
            Assert.Equal($"day >= '{from.Date.AddDays(-3):yyyy-MM-dd}';at < '{local:yyyy-MM-dd HH:mm:sszzz}';kind = 'k1'", (string)job["filter_sql"]!);
            Assert.Equal($"schedule {id}", (string)job["created_by"]!);
        }

        // Each job copied what its filters matched when it ran; together, the destination holds their union once.
        foreach (var job in jobs) Assert.Equal("COMPLETED", (string)(await s.Http.WaitForJobAsync((int)job["id"]!, Timeout, "COMPLETED", "FAILED"))["status"]!);
        var first = TimeZoneInfo.ConvertTime(created.Min(r => DateTimeOffset.Parse((string)r["occurrence_at"]!, CultureInfo.InvariantCulture)), zone);
        var last = created.Max(r => DateTimeOffset.Parse((string)r["occurrence_at"]!, CultureInfo.InvariantCulture));
        var where = $"day >= '{first.Date.AddDays(-3):yyyy-MM-dd}' AND at < '{last:O}' AND kind = 'k1'";
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "events", where);
        Assert.True(expected.Count > 100, $"the filters match only {expected.Count} rows; nothing much was tested");
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "events"));
    }

    [Fact]
    public async Task AnOccurrenceIsSkippedWhileThePreviousJobRuns_AndAPausedScheduleCreatesNothing()
    {
        using var receiver = new WebhookReceiver();
        await using var s = await Scenario.CreateAsync(pg, BigSql, ["public.big"], DestinationKinds.Postgres, Settings);
        await s.Http.PostOkAsync("/api/v1/notifications", new
        {
            name = "skips", type = "webhook", url = receiver.Url, secret = "skip-secret-0123456789", events = new[] { "SCHEDULE_SKIPPED" },
        });
        var schedule = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/schedules", new
        {
            table_name = "public.big", cron = "*/2 * * * * *", time_zone = "UTC", max_rows_per_second = 500,
            filters = new[] { Scenario.Filter("at", ">=", "now-7d") },
        });
        var id = (int)schedule["id"]!;
        var path = $"/api/v1/pipelines/{s.PipelineId}/schedules/{id}";

        var runs = await WaitForRunsAsync(s, id, r => r.Count(x => (string)x["outcome"]! == "SKIPPED") >= 2, "two skipped occurrences");
        var jobId = (int)runs.Single(r => (string)r["outcome"]! == "CREATED")["job_id"]!;
        Assert.All(runs.Where(r => (string)r["outcome"]! == "SKIPPED"), r =>
        {
            Assert.Null(r["job_id"]);
            Assert.StartsWith($"Job {jobId} of this schedule is still ", (string)r["message"]!);
            Assert.EndsWith(" The next job of this schedule copies its window.", (string)r["message"]!);
        });
        // The first skipped occurrence's window waits for the next job.
        var firstSkipped = runs.Where(r => (string)r["outcome"]! == "SKIPPED").Min(r => DateTimeOffset.Parse((string)r["occurrence_at"]!, CultureInfo.InvariantCulture));
        Assert.Equal(firstSkipped, DateTimeOffset.Parse((string)(await s.Http.GetOkAsync(path))["uncovered_since"]!, CultureInfo.InvariantCulture));
        Assert.Equal(1, await PostgresServer.ScalarAsync<long>(s.ConfigDb, $"SELECT count(*) FROM queue_backfill_data WHERE schedule_id = {id}"));
        // Each skip is told to the channels that subscribe to skips.
        var told = await receiver.WaitForAsync(r => r.Count >= 2, Timeout, "two SCHEDULE_SKIPPED events");
        Assert.All(told, r => Assert.Equal("SCHEDULE_SKIPPED", r.Headers["X-Backfill-Event"]));
        var message = (string)System.Text.Json.Nodes.JsonNode.Parse(told[0].Body)!["message"]!;
        Assert.StartsWith($"Schedule {id} of public.big (pipeline pipeline, '*/2 * * * * *' in UTC) skipped its run at ", message);
        Assert.Matches($"Job {jobId} of this schedule is still (PENDING|EXECUTING)\\. The next job of this schedule copies its window\\.$", message);

        var paused = await s.Http.PostOkAsync($"{path}/pause", new { });
        Assert.True((bool)paused["paused"]!);
        Assert.Null(paused["next_run_at"]);
        Assert.Empty(paused["next_runs"]!.AsArray());
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/cancel", new { });
        await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED");
        var before = (await RunsAsync(s, id)).Count;
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.Equal(before, (await RunsAsync(s, id)).Count);

        // Resumed, with the previous job over, the next occurrence creates a job again.
        var resumed = await s.Http.PostOkAsync($"{path}/resume", new { });
        Assert.False((bool)resumed["paused"]!);
        Assert.NotNull(resumed["next_run_at"]);
        Assert.Null(resumed["uncovered_since"]);
        runs = await WaitForRunsAsync(s, id, r => r.Count(x => (string)x["outcome"]! == "CREATED") == 2, "a job after resuming");
        var second = (int)runs.First(r => (string)r["outcome"]! == "CREATED")["job_id"]!;
        Assert.NotEqual(jobId, second);
        await s.Http.PostOkAsync($"{path}/pause", new { });
        await s.Http.PostOkAsync($"/api/v1/backfill/{second}/cancel", new { });

        // Deleting the schedule keeps the jobs it created.
        Assert.Equal(HttpStatusCode.NoContent, (await s.Http.DeleteAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await s.Http.GetJsonAsync(path)).Status);
        Assert.Equal(id, (int)(await s.Http.GetJobAsync(second))["schedule_id"]!);
    }

    [Fact]
    public async Task BadSchedules_AreRefusedNamingTheField_AGoodOneShowsItsNextRunsInItsZone_AndMissedOccurrencesRunOnce()
    {
        await using var s = await Scenario.CreateAsync(pg, EventsSql, ["public.events"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var path = $"/api/v1/pipelines/{s.PipelineId}/schedules";
        async Task<JsonObject> RefusedAsync(object body)
        {
            var (status, problem) = await s.Http.PostJsonAsync(path, body);
            Assert.True(status == HttpStatusCode.BadRequest, problem.ToJsonString());
            return problem["errors"]!.AsObject();
        }

        var errors = await RefusedAsync(new { table_name = "public.events", cron = "61 * * * *", time_zone = "Mars/Olympus" });
        Assert.Contains("cron", errors.Select(e => e.Key));
        Assert.Contains("time_zone", errors.Select(e => e.Key));
        errors = await RefusedAsync(new { table_name = "public.events", cron = "* * *", time_zone = "UTC" });
        Assert.Contains("use 5", (string)errors["cron"]![0]!);
        errors = await RefusedAsync(new { table_name = "public.nope", cron = "0 2 * * *" });
        Assert.Contains("table_name", errors.Select(e => e.Key));
        errors = await RefusedAsync(new { table_name = "public.events", cron = "0 2 * * *", filters = new[] { Scenario.Filter("day", ">=", "today-1x") } });
        Assert.Contains("is not a relative time", (string)errors["filters[0].value"]![0]!);
        // Relative values are for dates and timestamps: elsewhere a word is a literal, checked as one.
        errors = await RefusedAsync(new { table_name = "public.events", cron = "0 2 * * *", filters = new[] { Scenario.Filter("id", ">=", "today") } });
        Assert.Contains("is not a valid integer value", (string)errors["filters[0].value"]![0]!);
        errors = await RefusedAsync(new { table_name = "public.events", cron = "0 2 * * *", filters = new[] { Scenario.Filter("day", ">=", "today+100000y") } });
        Assert.Contains("outside the years 1 to 9999", (string)errors["filters[0].value"]![0]!);
        // On Linux a zone name is a path under the zone database: a folder, or a path out of it, is refused unread.
        foreach (var zone in new[] { "Europe", "../../../etc/passwd", "/etc/passwd" })
            Assert.Contains("is not a known time zone", (string)(await RefusedAsync(new { table_name = "public.events", cron = "0 2 * * *", time_zone = zone }))["time_zone"]![0]!);
        var longCron = $"{string.Join(",", Enumerable.Range(0, 60))} {string.Join(",", Enumerable.Range(0, 24))} * * *";
        Assert.Contains("at most 200", (string)(await RefusedAsync(new { table_name = "public.events", cron = longCron }))["cron"]![0]!);
        Assert.Equal(HttpStatusCode.NotFound, (await s.Http.PostJsonAsync("/api/v1/pipelines/999/schedules", new { table_name = "public.events", cron = "0 2 * * *" })).Status);
        Assert.Equal(0, await PostgresServer.ScalarAsync<long>(s.ConfigDb, "SELECT count(*) FROM backfill_schedules"));

        var created = await s.Http.PostOkAsync(path, new
        {
            table_name = "public.events", cron = "0 2 * * *", time_zone = "Europe/Berlin",
            filters = new[] { Scenario.Filter("day", ">=", "today-1d"), Scenario.Filter("kind", "=", "today") },
        });
        Assert.Equal("Europe/Berlin", (string)created["time_zone"]!);
        Assert.Equal(["today-1d", "today"], created["filters"]!.AsArray().Select(f => (string)f!["value"]!));
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var next = created["next_runs"]!.AsArray().Select(r => DateTimeOffset.Parse((string)r!, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(3, next.Count);
        Assert.All(next, r => Assert.Equal(new TimeSpan(2, 0, 0), TimeZoneInfo.ConvertTime(r, berlin).TimeOfDay));
        Assert.All(next.Zip(next.Skip(1)), p => Assert.True(p.Second > p.First));
        Assert.True(next[0] > DateTimeOffset.UtcNow && next[0] <= DateTimeOffset.UtcNow.AddDays(1));
        Assert.Equal(next[0], DateTimeOffset.Parse((string)created["next_run_at"]!, CultureInfo.InvariantCulture));
        var listed = (await s.Http.GetOkAsync(path)).AsArray();
        var id = (int)created["id"]!;
        Assert.Equal(id, (int)listed.Single()!["id"]!);

        // Edited: a refused edit changes nothing; a paused schedule stays paused through an edit.
        using (var refused = await s.Http.PutAsJsonAsync($"{path}/{id}", new { table_name = "public.events", cron = "0 2 * *", time_zone = "Europe/Berlin" }, TestApp.Json))
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        await s.Http.PostOkAsync($"{path}/{id}/pause", new { });
        using (var saved = await s.Http.PutAsJsonAsync($"{path}/{id}", new { table_name = "public.events", cron = "30 3 * * *", time_zone = "UTC",
                   filters = new[] { Scenario.Filter("day", ">=", "today-2d") } }, TestApp.Json))
            Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        var edited = (await s.Http.GetOkAsync($"{path}/{id}")).AsObject();
        Assert.Equal("30 3 * * *", (string)edited["cron"]!);
        Assert.Equal("today-2d", (string)edited["filters"]![0]!["value"]!);
        Assert.True((bool)edited["paused"]!);
        Assert.Null(edited["next_run_at"]);
        var resumed = await s.Http.PostOkAsync($"{path}/{id}/resume", new { });
        Assert.Equal(new TimeSpan(3, 30, 0), DateTimeOffset.Parse((string)resumed["next_run_at"]!, CultureInfo.InvariantCulture).UtcDateTime.TimeOfDay);
        using (var back = await s.Http.PutAsJsonAsync($"{path}/{id}", new { table_name = "public.events", cron = "0 2 * * *", time_zone = "Europe/Berlin",
                   filters = new[] { Scenario.Filter("day", ">=", "today-1d"), Scenario.Filter("kind", "=", "today") } }, TestApp.Json))
            Assert.Equal(HttpStatusCode.OK, back.StatusCode);

        // No engine ran for three days: the first to start runs the latest missed occurrence only, from the first one's
        // lower bound, and says so.
        var nowInBerlin = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, berlin);
        var latest = new DateTimeOffset(nowInBerlin.Date.AddHours(2), berlin.GetUtcOffset(nowInBerlin.Date.AddHours(2)));
        if (latest > DateTimeOffset.UtcNow) latest = new DateTimeOffset(nowInBerlin.Date.AddDays(-1).AddHours(2), berlin.GetUtcOffset(nowInBerlin.Date.AddDays(-1).AddHours(2)));
        await PostgresServer.ExecuteAsync(s.ConfigDb, $"UPDATE backfill_schedules SET next_run_at = '{latest.AddDays(-3):O}' WHERE id = {id}");
        await using var engine = await s.StartPeerAsync("--Backfill:PollIntervalSeconds=1");
        var runs = await WaitForRunsAsync(s, id, r => r.Count > 0, "an occurrence");
        await Task.Delay(TimeSpan.FromSeconds(3));
        runs = await RunsAsync(s, id);
        var run = Assert.Single(runs);
        Assert.Equal(latest.ToUniversalTime(), DateTimeOffset.Parse((string)run["occurrence_at"]!, CultureInfo.InvariantCulture));
        Assert.Equal("CREATED", (string)run["outcome"]!);
        Assert.EndsWith("3 earlier occurrence(s) were missed while no engine ran.", (string)run["message"]!);
        var firstMissed = latest.AddDays(-3);
        Assert.StartsWith($"Its lower bounds (>, >=) were resolved at {firstMissed.UtcDateTime.ToString("u", CultureInfo.InvariantCulture)}, ",
            (string)run["message"]!);
        var job = await s.Http.GetJobAsync((int)run["job_id"]!);
        Assert.Equal($"day >= '{TimeZoneInfo.ConvertTime(firstMissed, berlin).Date.AddDays(-1):yyyy-MM-dd}';kind = 'today'", (string)job["filter_sql"]!);
        var after = await s.Http.GetOkAsync($"{path}/{id}");
        Assert.True(DateTimeOffset.Parse((string)after["next_run_at"]!, CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task AnOccurrenceWhoseJobCannotBeCreated_FailsSayingWhy_AndNeitherItsScheduleNorOthersStop()
    {
        await using var s = await Scenario.CreateAsync(pg, EventsSql, ["public.events"], DestinationKinds.Postgres, Settings);
        var path = $"/api/v1/pipelines/{s.PipelineId}/schedules";
        var broken = (int)(await s.Http.PostOkAsync(path, new { table_name = "public.events", cron = "*/2 * * * * *", filters = new[] { Scenario.Filter("kind", "=", "k1") } }))["id"]!;
        var fine = (int)(await s.Http.PostOkAsync(path, new { table_name = "public.events", cron = "*/2 * * * * *", verify = "none" }))["id"]!;
        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE events DROP COLUMN kind");

        var failed = await WaitForRunsAsync(s, broken, r => r.Count(x => (string)x["outcome"]! == "FAILED") >= 3, "three failed occurrences");
        var created = await WaitForRunsAsync(s, fine, r => r.Count(x => (string)x["outcome"]! == "CREATED") >= 2, "two jobs of the other schedule");
        await s.Http.PostOkAsync($"{path}/{broken}/pause", new { });
        await s.Http.PostOkAsync($"{path}/{fine}/pause", new { });
        Assert.All(failed.Where(r => (string)r["outcome"]! == "FAILED"), r =>
        {
            Assert.Null(r["job_id"]);
            Assert.Contains("kind", (string)r["message"]!);
        });
        Assert.DoesNotContain(created, r => (string)r["outcome"]! == "FAILED");
    }

    private static async Task<List<JsonObject>> RunsAsync(Scenario s, int id) =>
        (await s.Http.GetOkAsync($"/api/v1/pipelines/{s.PipelineId}/schedules/{id}/runs")).AsArray().Select(r => r!.AsObject()).ToList();

    private static async Task<List<JsonObject>> WaitForRunsAsync(Scenario s, int id, Func<List<JsonObject>, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var runs = await RunsAsync(s, id);
            if (condition(runs)) return runs;
            if (DateTime.UtcNow > deadline) Assert.Fail($"No {what} within {Timeout}: {new JsonArray([.. runs.Select(r => r.DeepClone())]).ToJsonString()}");
            await Task.Delay(250);
        }
    }
}
