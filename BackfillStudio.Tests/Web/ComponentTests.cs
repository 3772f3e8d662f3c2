using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Verification;
using BackfillStudio.Web.Components.Shared;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;

namespace BackfillStudio.Tests.Web;

public sealed class ComponentTests : BunitContext, IAsyncLifetime
{
    internal static readonly SourceColumn Id = Column("id", "bigint", ValueKind.Int64);
    internal static readonly SourceColumn Name = Column("name", "text", ValueKind.Text);
    internal static readonly SourceColumn Active = Column("active", "boolean", ValueKind.Bool);
    internal static readonly SourceColumn Payload = Column("payload", "jsonb", ValueKind.Jsonb);
    internal static readonly SourceColumn CreatedAt = Column("created_at", "timestamp with time zone", ValueKind.TimestampTz);

    public ComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        Render<MudPopoverProvider>();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor's services are only asynchronously disposable; xunit 2 would otherwise dispose synchronously.
    Task IAsyncLifetime.DisposeAsync() => base.DisposeAsync().AsTask();

    [Fact]
    public void FilterBuilder_AddsAtMostFiveRows()
    {
        var filters = new List<FilterDraft>();
        var cut = Render<FilterBuilder>(p => p.Add(x => x.Columns, [Id, Name]).Add(x => x.Filters, filters));

        for (var i = 0; i < 6; i++) cut.Find("[data-testid=add-filter]").Click();

        Assert.Equal(5, filters.Count);
        Assert.Equal(5, cut.FindAll("[data-testid=filter-row]").Count);
        Assert.True(cut.Find("[data-testid=add-filter]").HasAttribute("disabled"));
    }

    [Fact]
    public void FilterBuilder_ValueEditorFollowsTheType_AndDisappearsForNullChecks()
    {
        List<FilterDraft> filters =
        [
            new() { Column = "id", Operator = ">=" },
            new() { Column = "active", Operator = "=" },
            new() { Column = "name", Operator = "IS NULL" },
        ];
        var cut = Render<FilterBuilder>(p => p.Add(x => x.Columns, [Id, Name, Active]).Add(x => x.Filters, filters));

        var rows = cut.FindAll("[data-testid=filter-row]");
        Assert.Contains(rows[0].QuerySelectorAll("input"), i => i.GetAttribute("type") == "number");
        Assert.NotNull(rows[1].QuerySelector(".mud-switch"));
        Assert.Empty(rows[2].QuerySelectorAll("[data-testid=filter-value]"));
    }

    [Fact]
    public void FilterBuilder_ShowsServerErrorsOnTheFieldTheyConcern()
    {
        List<FilterDraft> filters = [new() { Column = "id", Operator = ">", Value = "1" }, new() { Column = "id", Operator = ">", Value = "2" }];
        var errors = new Dictionary<string, string[]> { ["filters[1].value"] = ["'2' is out of range."] };
        var cut = Render<FilterBuilder>(p => p.Add(x => x.Columns, [Id]).Add(x => x.Filters, filters).Add(x => x.Errors, new FieldErrors(errors)));

        var rows = cut.FindAll("[data-testid=filter-row]");
        Assert.DoesNotContain("out of range", rows[0].TextContent);
        Assert.Contains("'2' is out of range.", rows[1].TextContent);
    }

    [Fact]
    public void JobsTable_OffersCancelResumeVerifyRepairAndDeleteByStatus_AndShowsProgress()
    {
        VerificationReport Report(string status, int mismatched) => new("checksum", status, DateTimeOffset.UtcNow, 10, mismatched, ["score"],
            mismatched == 0 ? [] : [new RangeMismatch(2, ["100"], ["200"], 100, 98, false)], null);
        var cut = Render<JobsTable>(p => p.Add(x => x.CanOperate, true).Add(x => x.Destinations, new Dictionary<int, string> { [2] = "warehouse" }).Add(x => x.Items,
        [
            Job(1, "PENDING", 0, null), Job(2, "EXECUTING", 500, 1000), Job(3, "COMPLETED", 1000, 1000), Job(4, "FAILED", 10, 1000),
            Job(5, "CANCELLED", 20, 1000) with { ResumedBy = "alice", ResumedAt = DateTimeOffset.UtcNow },
            Job(6, "COMPLETED", 1000, 1000) with { Verification = Report(VerifyStatus.Mismatch, 1) },
            Job(7, "COMPLETED", 1000, 1000) with { Verification = Report(VerifyStatus.Running, 0) },
            Job(8, "COMPLETED", 1000, 1000) with { Verification = Report(VerifyStatus.Matched, 0) },
            // A cancelled job differs by the rows it has not copied: it is resumed, not repaired.
            Job(9, "CANCELLED", 20, 1000) with { Verification = Report(VerifyStatus.Mismatch, 1) },
        ]));

        var rows = cut.FindAll("tbody tr");
        string Buttons(int row) => string.Join(",", rows[row].QuerySelectorAll("button").Select(b => b.TextContent.Trim()));
        Assert.Equal("Cancel,Delete", Buttons(0));
        Assert.Equal("Cancel", Buttons(1));
        Assert.Equal("Verify,Delete", Buttons(2));
        Assert.Equal("Resume,Verify,Delete", Buttons(3));
        Assert.Equal("Resume,Verify,Delete", Buttons(4));
        Assert.Equal("Details,Verify,Repair,Delete", Buttons(5));
        Assert.Equal("Stop verifying,Delete", Buttons(6));
        Assert.Equal("Verify,Delete", Buttons(7));
        Assert.Equal("Details,Resume,Verify,Delete", Buttons(8));
        Assert.Contains("resumed by alice", rows[4].TextContent);
        Assert.Contains("500 / 1,000 (50%)", rows[1].TextContent);
        Assert.Contains("boom", rows[3].TextContent);
        Assert.Equal("MISMATCH · 1 of 10", rows[5].QuerySelector("[data-testid=verification-status]")!.TextContent.Trim());
        Assert.Equal("verifying · 10 ranges", rows[6].QuerySelector("[data-testid=verification-status]")!.TextContent.Trim());
        Assert.Equal("MATCHED · checksum", rows[7].QuerySelector("[data-testid=verification-status]")!.TextContent.Trim());
        Assert.Contains("count only: 1", rows[7].TextContent);
        Assert.Empty(rows[2].QuerySelectorAll("[data-testid=verification]"));

        rows[5].QuerySelector("[data-testid=verification-toggle]")!.Click();
        var range = cut.FindAll("tbody tr")[5].QuerySelector("[data-testid=verification-range]")!.TextContent;
        Assert.Contains("keys (100 … 200]: 100 source / 98 destination rows, values differ", range);
        Assert.Contains("warehouse (#2)", cut.FindAll("tbody tr")[5].TextContent);
    }

    [Fact]
    public void JobsTable_RerendersARowWhenItsJobChanges()
    {
        var cut = Render<JobsTable>(p => p.Add(x => x.CanOperate, true).Add(x => x.Items, [Job(7, "EXECUTING", 100, 1000)]));
        Assert.Contains("EXECUTING", cut.Find("[data-testid=job-status]").TextContent);

        cut.Render(p => p.Add(x => x.Items, [Job(7, "COMPLETED", 1000, 1000)]));

        Assert.Contains("COMPLETED", cut.Find("[data-testid=job-status]").TextContent);
        Assert.Contains("1,000 / 1,000 (100%)", cut.Find("[data-testid=job-count]").TextContent);
    }

    [Fact]
    public void JobProgress_ShowsRateAndTimeLeft_OnlyWhileRunning()
    {
        var running = Render<JobProgress>(p => p.Add(x => x.Count, 5000).Add(x => x.Total, 10000).Add(x => x.Running, true)
            .Add(x => x.StartedAt, DateTimeOffset.UtcNow.AddSeconds(-10)));
        var finished = Render<JobProgress>(p => p.Add(x => x.Count, 10000).Add(x => x.Total, 10000).Add(x => x.StartedAt, DateTimeOffset.UtcNow.AddSeconds(-20)));

        Assert.Matches(@"^\d{3} rows/s · 00:00:1\d left$", running.Find("[data-testid=job-rate]").TextContent);
        Assert.Contains("5,000 / 10,000 (50%)", running.Markup);
        Assert.Empty(finished.FindAll("[data-testid=job-rate]"));
    }

    [Fact]
    public void JobsTable_HidesCancelAndDelete_FromRolesThatCannotOperate_AndShowsWhoCreatedEachJob()
    {
        var cut = Render<JobsTable>(p => p.Add(x => x.CanOperate, false).Add(x => x.Items, [Job(1, "PENDING", 0, null), Job(2, "COMPLETED", 5, 5)]));

        Assert.Empty(cut.FindAll("button"));
        Assert.All(cut.FindAll("[data-testid=job-created-by]"), e => Assert.Equal("by admin", e.TextContent.Trim()));
        Assert.Equal(2, cut.FindAll("[data-testid=job-created-by]").Count);
    }

    [Fact]
    public void JobsTable_ShowsWhoDeletedAJob_AndOffersNoActionOnIt()
    {
        var deleted = Job(3, "COMPLETED", 5, 5) with { DeletedBy = "admin", DeletedAt = DateTimeOffset.UtcNow };
        var cut = Render<JobsTable>(p => p.Add(x => x.CanOperate, true).Add(x => x.Items, [deleted]));

        Assert.Empty(cut.FindAll("button"));
        Assert.StartsWith("deleted by admin", cut.Find("[data-testid=job-deleted-by]").TextContent.Trim());
    }

    [Fact]
    public void JobError_ShowsTheStartOfALongMessage_AndExpandsToAllOfIt()
    {
        var message = "Destination 'pg' rejected batch 3: " + new string('x', 200) + " (end of message)";
        var cut = Render<JobError>(p => p.Add(x => x.Message, message));

        Assert.DoesNotContain("(end of message)", cut.Find("[data-testid=job-error]").TextContent);
        cut.Find("[data-testid=job-error-toggle] button, button[data-testid=job-error-toggle]").Click();
        Assert.Contains("(end of message)", cut.Find("[data-testid=job-error]").TextContent);
        Assert.Contains("Show less", cut.Find("[data-testid=job-error-toggle]").TextContent);
    }

    [Fact]
    public void JobsTable_ShowsWhyARunningOrQueuedJobIsBeingRetried_AndNothingForOthers()
    {
        const string reason = "Source: the server sent nothing within Backfill:StallTimeoutSeconds";
        var cut = Render<JobsTable>(p => p.Add(x => x.Items,
        [
            Job(1, "EXECUTING", 500, 1000) with { ErrorMessage = reason },
            Job(2, "PENDING", 500, 1000) with { ErrorMessage = reason },
            Job(3, "EXECUTING", 500, 1000),
            Job(4, "COMPLETED", 1000, 1000),
        ]));

        var retrying = cut.FindAll("[data-testid=job-retrying]");
        Assert.Equal(2, retrying.Count);
        Assert.All(retrying, e => Assert.Contains("Retrying after: Source: the server sent nothing", e.TextContent));
        Assert.Empty(cut.FindAll("[data-testid=job-error]"));
    }

    [Fact]
    public void JobsTable_ShowsWhyARunningJobIsThrottled_OrWhichEngineAQueuedOneWaitsFor_AndItsCeiling()
    {
        const string reason = "the source is slow (a read took 3,200 ms, target 2,000 ms): reading 2,500 rows at a time, pausing between reads";
        var cut = Render<JobsTable>(p => p.Add(x => x.Items,
        [
            Job(1, "EXECUTING", 500, 1000) with { Throttled = reason, MaxRowsPerSecond = 20000 },
            Job(2, "PENDING", 0, null) with { WaitingFor = "engine 'beta', which is not running" },
            Job(3, "COMPLETED", 1000, 1000) with { MaxRowsPerSecond = 5000 },
        ]));

        Assert.Contains("Waiting for engine 'beta'", Assert.Single(cut.FindAll("[data-testid=job-waiting]")).TextContent);
        var throttled = Assert.Single(cut.FindAll("[data-testid=job-throttled]"));
        Assert.Contains("Throttled: " + reason, throttled.TextContent);
        var ceilings = cut.FindAll("[data-testid=job-max-rate]").Select(e => e.TextContent.Trim()).ToList();
        Assert.Equal(["≤ 20,000 rows/s", "≤ 5,000 rows/s"], ceilings);
    }

    [Fact]
    public void JobError_ShowsAShortMessageWhole_WithoutAToggle()
    {
        var cut = Render<JobError>(p => p.Add(x => x.Message, "Source 1 is unreachable."));

        Assert.Contains("Source 1 is unreachable.", cut.Markup);
        Assert.Empty(cut.FindAll("[data-testid=job-error-toggle]"));
    }

    private static JobView Job(int id, string status, long count, long? total) => new(id, 1, 1, "public.t",
        [new BackfillFilter("id", ">", "5")], "id > 5", JobStatusNames.Parse(status), count, total, status == "FAILED", status == "FAILED" ? "boom" : null,
        DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null, "admin", null, null, null, null, null, null, "none", null, null, null);

    internal static SourceColumn Column(string name, string type, ValueKind kind) =>
        new(name, type, type, Nullable: true, IsPrimaryKey: false, kind, null, null, null, IsBuiltinType: true);
}

public sealed class FilterDraftTests
{
    private static readonly SourceColumn Id = ComponentTests.Id;
    private static readonly SourceColumn Name = ComponentTests.Name;
    private static readonly SourceColumn Active = ComponentTests.Active;
    private static readonly SourceColumn Payload = ComponentTests.Payload;
    private static readonly SourceColumn CreatedAt = ComponentTests.CreatedAt;

    [Fact]
    public void Operators_FitTheColumnType()
    {
        Assert.Equal(FilterOperators.Symbols, FilterDraft.OperatorsFor(Name));
        Assert.Equal(["=", "!=", ">", "<", ">=", "<=", "IS NULL", "IS NOT NULL"], FilterDraft.OperatorsFor(CreatedAt));
        Assert.Equal(["=", "!=", "IS NULL", "IS NOT NULL"], FilterDraft.OperatorsFor(Active));
        Assert.Equal(["IS NULL", "IS NOT NULL"], FilterDraft.OperatorsFor(Payload));
    }

    [Fact]
    public void FilterDraft_FlagsValuesTheServerWouldReject()
    {
        Assert.Contains("not a valid integer", new FilterDraft { Column = "id", Operator = "=", Value = "1.5" }.ValueError(Id));
        Assert.Contains("ISO 8601", new FilterDraft { Column = "created_at", Operator = ">", Value = "soon" }.ValueError(CreatedAt));
        Assert.Null(new FilterDraft { Column = "created_at", Operator = ">", Value = "2024-01-01T00:00:00Z" }.ValueError(CreatedAt));
        Assert.Null(new FilterDraft { Column = "id", Operator = "IS NULL" }.ValueError(Id));
        Assert.Equal("A value is required.", new FilterDraft { Column = "id", Operator = "=" }.ValueError(Id));
    }
}
