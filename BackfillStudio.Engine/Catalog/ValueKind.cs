namespace BackfillStudio.Engine.Catalog;

/// <summary>
/// How a source column's values travel through the engine. Types without an exact .NET
/// counterpart (unconstrained or wide numerics, enums, intervals, ...) travel as their
/// PostgreSQL text form, which round-trips exactly.
/// </summary>
public enum ValueKind
{
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// <summary>numeric(p,s) with p ≤ 28: fits <see cref="decimal"/> exactly.</summary>
    Decimal,
    /// <summary>numeric without precision or with p &gt; 28: carried as text.</summary>
    NumericText,
    Text,
    Bool,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Uuid,
    Json,
    Jsonb,
    Bytea,
    /// <summary>One-dimensional array of a simple element kind.</summary>
    Array,
    Enum,
    /// <summary>Any other type, carried as its text form.</summary>
    OtherText,
}
