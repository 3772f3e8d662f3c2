using System.Text.Json.Serialization;

namespace BackfillStudio.Engine.Batches;

/// <summary>
/// Where a job resumes: batches written so far and the last primary key written, or, for tables without
/// one, the next heap block and the fixed range size (kept so a resumed job re-reads the same ranges), in the heaps
/// <see cref="Relations"/> as they were stored then (<see cref="Filenodes"/>, which a rewrite changes). <see cref="Plan"/>
/// and <see cref="Columns"/> are where the rows went and the source table's columns they had (<see cref="Catalog.TableSchema.ColumnList"/>).
/// </summary>
public sealed record ResumeCursor(
    [property: JsonPropertyName("batches")] long Batches,
    [property: JsonPropertyName("last_key")] IReadOnlyList<string>? LastKey,
    [property: JsonPropertyName("next_block")] long? NextBlock,
    [property: JsonPropertyName("blocks_per_batch")] long? BlocksPerBatch,
    [property: JsonPropertyName("relations")] IReadOnlyList<uint>? Relations = null,
    [property: JsonPropertyName("filenodes")] IReadOnlyList<uint>? Filenodes = null,
    [property: JsonPropertyName("plan")] string? Plan = null,
    [property: JsonPropertyName("columns")] IReadOnlyList<string>? Columns = null)
{
    public static readonly ResumeCursor Start = new(0, null, null, null);
}
