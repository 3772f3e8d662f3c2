namespace BackfillStudio.Engine.Catalog;

/// <summary>
/// How a source column's values travel through the engine. Types without an exact .NET
/// counterpart (numerics, enums, intervals, ...) travel as their PostgreSQL text form, which
/// round-trips exactly; dates and times travel as PostgreSQL's own integers (see <see cref="PgTemporal"/>),
/// which hold every value PostgreSQL holds, <c>infinity</c>, BC dates and <c>24:00:00</c> included.
/// </summary>
public enum ValueKind
{
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// <summary>numeric: carried as text, so NaN, ±Infinity and every digit arrive exactly.</summary>
    NumericText,
    Text,
    Bool,
    /// <summary>int: days since 2000-01-01; int.MaxValue/MinValue are ±infinity.</summary>
    Date,
    /// <summary>long: microseconds since midnight, up to 24:00:00.</summary>
    Time,
    /// <summary>long: microseconds since 2000-01-01 00:00; long.MaxValue/MinValue are ±infinity.</summary>
    Timestamp,
    /// <summary>long: microseconds since 2000-01-01 00:00 UTC; long.MaxValue/MinValue are ±infinity.</summary>
    TimestampTz,
    Uuid,
    Json,
    Jsonb,
    Bytea,
    /// <summary>One-dimensional array (lower bound 1) of a simple element kind; other shapes are refused.</summary>
    Array,
    Enum,
    /// <summary>Any other type, carried as its text form.</summary>
    OtherText,
}
