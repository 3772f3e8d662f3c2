using System.Text.Json;
using System.Text.Json.Serialization;
using BackfillStudio.Engine.Common;

namespace BackfillStudio.Engine.Verification;

/// <summary>
/// How a job checks its copy against the source: <see cref="Count"/> compares row counts per key range,
/// <see cref="Checksum"/> also an order-independent hash of every row's canonical text, computed inside each database.
/// </summary>
public enum VerifyMode
{
    None,
    Count,
    Checksum,
}

public static class VerifyModes
{
    public static string ToDb(this VerifyMode mode) => mode.ToString().ToLowerInvariant();

    public static bool TryParse(string? text, out VerifyMode mode) => EnumText.TryParse(text, out mode);

    public static string Names(bool withNone) =>
        string.Join(", ", Enum.GetValues<VerifyMode>().Where(m => withNone || m != VerifyMode.None).Select(m => $"\"{m.ToDb()}\""));
}

/// <summary>Where a verification stands; stored upper-case.</summary>
public static class VerifyStatus
{
    public const string Pending = "PENDING";
    public const string Running = "RUNNING";
    public const string Matched = "MATCHED";
    public const string Mismatch = "MISMATCH";
    public const string Failed = "FAILED";

    public static readonly string[] InProgress = [Pending, Running];
}

/// <summary>
/// The <c>verification</c> object of a job. A range is <c>(range_start, range_end]</c> in the source's key order, each
/// bound the key's text (null: unbounded); a destination that cannot order keys as PostgreSQL does is compared as a
/// whole (both bounds null).
/// </summary>
public sealed record VerificationReport(
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("checked_at")] DateTimeOffset? CheckedAt,
    [property: JsonPropertyName("ranges_checked")] int RangesChecked,
    [property: JsonPropertyName("ranges_mismatched")] int RangesMismatched,
    [property: JsonPropertyName("count_only_columns")] IReadOnlyList<string> CountOnlyColumns,
    [property: JsonPropertyName("mismatches")] IReadOnlyList<RangeMismatch> Mismatches,
    [property: JsonPropertyName("error_message")] string? ErrorMessage,
    [property: JsonPropertyName("notes")] IReadOnlyList<string>? Notes = null,
    [property: JsonPropertyName("repaired_ranges")] int? RepairedRanges = null)
{
    /// <summary>At most this many mismatches are listed; <see cref="RangesMismatched"/> counts them all.</summary>
    public const int MaxMismatches = 100;

    public static VerificationReport Queued(VerifyMode mode) => new(mode.ToDb(), VerifyStatus.Pending, null, 0, 0, [], [], null);

    public string ToJson() => JsonSerializer.Serialize(this);

    public static VerificationReport? FromJson(string? json) => json is null ? null : JsonSerializer.Deserialize<VerificationReport>(json);
}

/// <param name="SourceRows">Matching source rows in the range.</param>
/// <param name="DestinationRows">Rows of the range in the destination that match the job's filters.</param>
/// <param name="ChecksumEqual">Null in count mode.</param>
public sealed record RangeMismatch(
    [property: JsonPropertyName("destination_id")] int DestinationId,
    [property: JsonPropertyName("range_start")] IReadOnlyList<string>? RangeStart,
    [property: JsonPropertyName("range_end")] IReadOnlyList<string>? RangeEnd,
    [property: JsonPropertyName("source_rows")] long SourceRows,
    [property: JsonPropertyName("destination_rows")] long DestinationRows,
    [property: JsonPropertyName("checksum_equal")] bool? ChecksumEqual);
