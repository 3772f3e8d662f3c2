using BackfillStudio.Engine.Jobs;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>
/// One batch read from the source: typed values in column order, and the cursors before and after it.
/// <see cref="Sequence"/> numbers batches from 0 and is stable across resumes.
/// </summary>
public sealed record SourceBatch(long Sequence, IReadOnlyList<object?[]> Rows, ResumeCursor Start, ResumeCursor End);
