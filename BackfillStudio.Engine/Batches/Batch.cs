using BackfillStudio.Engine.Staging;

namespace BackfillStudio.Engine.Batches;

/// <summary>The keys a batch covers: after <see cref="After"/> (null: from the first) up to and including <see cref="Last"/>, as text.</summary>
public sealed record KeySpan(IReadOnlyList<string>? After, IReadOnlyList<string> Last);

/// <summary>
/// One batch of a job's rows on its way to the destinations; writers depend on this, never on the reader.
/// <see cref="Sequence"/> numbers batches from 0 and is stable across resumes. A table with a primary key gives
/// <see cref="Keys"/>, the key span the batch covers; a table without one gives <see cref="BlocksEnd"/>, the heap
/// position after it (the marker a destination records so a resumed batch is not appended twice). <see cref="Next"/>
/// is where the job resumes once every destination holds the batch.
/// <para>
/// The rows are decoded values in column order. Writers that encode through DuckDB (Parquet) call <see cref="Staged"/>,
/// which loads them into the job's in-memory DuckDB once. (A batch carrying raw binary COPY data instead of decoded rows
/// would be a second payload beside <see cref="Rows"/>.)
/// </para>
/// </summary>
public sealed class Batch(long sequence, IReadOnlyList<object?[]> rows, KeySpan? keys, long? blocksEnd, ResumeCursor next)
{
    private Func<DuckDbStage>? _stage;
    private DuckDbStage? _loaded;

    public long Sequence => sequence;

    public IReadOnlyList<object?[]> Rows => rows;

    public KeySpan? Keys => keys;

    public long? BlocksEnd => blocksEnd;

    public ResumeCursor Next => next;

    /// <summary>Where <see cref="Staged"/> loads the rows: the job's DuckDB stage, created on first use.</summary>
    public Batch WithStage(Func<DuckDbStage> stage)
    {
        _stage = stage;
        return this;
    }

    public DuckDbStage Staged()
    {
        if (_loaded is null)
        {
            _loaded = (_stage ?? throw new InvalidOperationException("The batch has no stage.")).Invoke();
            _loaded.Load(rows);
        }
        return _loaded;
    }
}
