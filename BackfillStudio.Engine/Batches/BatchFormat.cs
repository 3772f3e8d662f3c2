namespace BackfillStudio.Engine.Batches;

/// <summary>How a job's reader hands its rows to the destinations: what every destination of the job takes, else decoded.</summary>
public enum BatchFormat
{
    /// <summary>Values decoded into .NET objects, one array per row (<see cref="Batch.Rows"/>): every destination takes these.</summary>
    Decoded,

    /// <summary>The source's binary COPY output in each PostgreSQL target column's type, passed on undecoded.</summary>
    PostgresCopy,

    /// <summary>
    /// The source's binary COPY output of the decoded rows' columns (text-carried kinds as text), which DuckDB and Parquet
    /// writers append to their DuckDB stage field by field (<see cref="Staging.StageCopy"/>).
    /// </summary>
    StageCopy,
}
