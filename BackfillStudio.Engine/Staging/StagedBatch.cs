using BackfillStudio.Engine.Sources.Postgres;

namespace BackfillStudio.Engine.Staging;

/// <summary>
/// A batch on its way to the destinations. Writers that need DuckDB (Parquet encoding) call
/// <see cref="Staged"/>, which loads the rows into the job's in-memory DuckDB once per batch;
/// writers that copy typed values directly (PostgreSQL binary COPY) read <see cref="Rows"/>.
/// </summary>
public sealed class StagedBatch(SourceBatch source, Func<DuckDbStage> stage)
{
    private DuckDbStage? _loaded;

    public SourceBatch Source => source;

    public IReadOnlyList<object?[]> Rows => source.Rows;

    public DuckDbStage Staged()
    {
        if (_loaded is null)
        {
            _loaded = stage();
            _loaded.Load(source.Rows);
        }
        return _loaded;
    }
}
