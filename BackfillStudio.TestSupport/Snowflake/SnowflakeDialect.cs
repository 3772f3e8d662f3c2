using System.Text.RegularExpressions;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// Turns the Snowflake SQL the loader sends into DuckDB SQL. Type names and <c>CREATE TRANSIENT TABLE</c> are
/// rewritten in code only (never inside literals or quoted identifiers, so a column named "ARRAY" stays);
/// Snowflake-only functions are DuckDB macros instead of rewrites; everything else (MERGE, VALUES lists) is
/// already DuckDB SQL.
/// </summary>
internal static partial class SnowflakeDialect
{
    private const RegexOptions Options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;

    /// <summary>
    /// Created once on the emulator's connection. Temporary, so they stay out of the database file tests read,
    /// and temp.main is always searched first whatever the current schema.
    /// </summary>
    public static readonly IReadOnlyList<string> Macros =
    [
        "CREATE TEMP MACRO parse_json(x) AS CAST(x AS JSON)",
        "CREATE TEMP MACRO current_version() AS '9.99.0'",
        "CREATE TEMP MACRO to_binary(x, f) AS unhex(x)",
        "CREATE TEMP MACRO to_varchar(x) AS CAST(x AS VARCHAR)",
        // Only the hexadecimal format ('XXX...') verification uses.
        "CREATE TEMP MACRO to_number(x, f) AS CAST('0x' || x AS BIGINT)",
        // Only 'utf8', Snowflake's binary comparison: a copy of the text without the column's collation.
        "CREATE TEMP MACRO collate_utf8(x, c) AS decode(encode(x))",
    ];

    /// <summary>USE and ALTER SESSION only set session context, which the emulator takes from the request body.</summary>
    private const string SessionCommandReplacement = $"SELECT '{SnowflakeResponses.SuccessMessage}' AS status";

    public static string ToDuckDb(string statement) =>
        SessionCommand().IsMatch(SqlText.WithoutComments(statement))
            ? SessionCommandReplacement
            : SqlText.MapCode(statement, RewriteCode);

    private static string RewriteCode(string code)
    {
        code = TransientTable().Replace(code, "$1");
        // Date parts are keywords in Snowflake and strings in DuckDB.
        code = DateDiffDay().Replace(code, "datediff('day',");
        code = EpochMicrosecond().Replace(code, "epoch_us(");
        code = CollateFunction().Replace(code, "collate_utf8(");
        code = NumberWithPrecision().Replace(code, m => $"DECIMAL({m.Groups[1].Value},{(m.Groups[2].Success ? m.Groups[2].Value : "0")})");
        // Snowflake's NUMBER, NUMERIC and DECIMAL without precision mean (38,0); DuckDB's DECIMAL alone means (18,3).
        code = BareNumber().Replace(code, "DECIMAL(38,0)");
        code = FloatType().Replace(code, "DOUBLE");
        code = SizedVarchar().Replace(code, "VARCHAR");
        code = TimestampNtz().Replace(code, "TIMESTAMP");
        code = TimestampWithZone().Replace(code, "TIMESTAMPTZ");
        code = SizedTime().Replace(code, "$1");
        code = SemiStructured().Replace(code, "JSON");
        code = BinaryType().Replace(code, "BLOB");
        return code;
    }

    [GeneratedRegex(@"\bDATEDIFF\s*\(\s*DAY\s*,", Options)]
    private static partial Regex DateDiffDay();

    [GeneratedRegex(@"\bDATE_PART\s*\(\s*EPOCH_MICROSECOND\s*,", Options)]
    private static partial Regex EpochMicrosecond();

    [GeneratedRegex(@"\bCOLLATE\s*\(", Options)]
    private static partial Regex CollateFunction();

    [GeneratedRegex(@"^\s*(?:USE|ALTER\s+SESSION)\b", Options)]
    private static partial Regex SessionCommand();

    [GeneratedRegex(@"\b(CREATE\s+(?:OR\s+REPLACE\s+)?)TRANSIENT\s+(?=TABLE\b)", Options)]
    private static partial Regex TransientTable();

    [GeneratedRegex(@"\bNUMBER\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", Options)]
    private static partial Regex NumberWithPrecision();

    [GeneratedRegex(@"\b(?:NUMBER|NUMERIC|DECIMAL)\b(?!\s*\()", Options)]
    private static partial Regex BareNumber();

    [GeneratedRegex(@"\bFLOAT\b", Options)]
    private static partial Regex FloatType();

    [GeneratedRegex(@"\bVARCHAR\s*\(\s*\d+\s*\)", Options)]
    private static partial Regex SizedVarchar();

    [GeneratedRegex(@"\bTIMESTAMP_NTZ\b(?:\s*\(\s*\d+\s*\))?", Options)]
    private static partial Regex TimestampNtz();

    [GeneratedRegex(@"\bTIMESTAMP_L?TZ\b(?:\s*\(\s*\d+\s*\))?", Options)]
    private static partial Regex TimestampWithZone();

    [GeneratedRegex(@"\b(TIMESTAMP|TIME)\s*\(\s*\d+\s*\)", Options)]
    private static partial Regex SizedTime();

    [GeneratedRegex(@"\b(?:VARIANT|ARRAY|OBJECT)\b", Options)]
    private static partial Regex SemiStructured();

    [GeneratedRegex(@"\b(?:VAR)?BINARY\b(?:\s*\(\s*\d+\s*\))?", Options)]
    private static partial Regex BinaryType();
}
