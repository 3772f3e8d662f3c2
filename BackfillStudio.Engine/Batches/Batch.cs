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
/// The rows are decoded values in column order (<see cref="Rows"/>), or the source's binary COPY output
/// (<see cref="Binary"/>) when every destination of the job takes it (<see cref="BatchFormat"/>). Writers that encode
/// through DuckDB (Parquet) call <see cref="Staged"/>, which loads the rows into the job's in-memory DuckDB once.
/// </para>
/// </summary>
public sealed class Batch(long sequence, BatchRows rows, KeySpan? keys, long? blocksEnd, ResumeCursor next) : IDisposable
{
    private Func<DuckDbStage>? _stage;
    private DuckDbStage? _loaded;

    public long Sequence => sequence;

    public int RowCount => rows.RowCount;

    /// <summary>The decoded rows; a batch of binary COPY data has none (only writers that take its <see cref="BatchFormat"/> get those).</summary>
    public IReadOnlyList<object?[]> Rows => rows.Values ?? throw new InvalidOperationException("This batch holds binary COPY data, not decoded rows.");

    public BinaryCopyRows? Binary => rows.Binary;

    /// <summary>The batch's size: its binary COPY data, or its decoded values as <see cref="BatchLimits"/> counts them.</summary>
    public long ApproximateBytes => rows.Binary?.Data.Length ?? Rows.Sum(BatchLimits.SizeOf);

    public KeySpan? Keys => keys;

    public long? BlocksEnd => blocksEnd;

    public ResumeCursor Next => next;

    /// <summary>Where <see cref="Staged"/> loads the rows: the job's DuckDB stage, created on first use.</summary>
    public Batch WithStage(Func<DuckDbStage> stage)
    {
        _stage = stage;
        return this;
    }

    /// <summary>Hands a binary batch's buffer back to its reader once every destination holds the batch.</summary>
    public void Dispose() => rows.Binary?.Dispose();

    public DuckDbStage Staged()
    {
        if (_loaded is null)
        {
            _loaded = (_stage ?? throw new InvalidOperationException("The batch has no stage.")).Invoke();
            _loaded.Load(this);
        }
        return _loaded;
    }
}
