using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Destinations.Snowflake;
using BackfillStudio.Tests.Web;

namespace BackfillStudio.Tests.Snowflake;

public sealed class SnowflakeUnitTests
{
    /// <summary>Computed by openssl from the test key (see Keys/README.md), not by the code under test.</summary>
    private const string OpensslFingerprint = "SHA256:+rZojGefDExiYxUOB/oppcIuuwV9+cf49fvhYZoYtjI=";

    public static string KeyPem => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Snowflake", "Keys", "test_rsa_key.p8"));
    public static string EncryptedKeyPem => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Snowflake", "Keys", "test_rsa_key_encrypted.p8"));

    [Fact]
    public void Jwt_CarriesTheDocumentedClaims_AndVerifiesWithThePublicKey()
    {
        using var keyPair = new SnowflakeKeyPair("myorg.my_account", "jane.doe", KeyPem, null);
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

        var parts = keyPair.CreateToken(now).Split('.');

        Assert.Equal(3, parts.Length);
        var header = JsonNode.Parse(FromBase64Url(parts[0]))!;
        var claims = JsonNode.Parse(FromBase64Url(parts[1]))!;
        Assert.Equal("RS256", (string)header["alg"]!);
        Assert.Equal("MYORG-MY_ACCOUNT.JANE.DOE", (string)claims["sub"]!);
        Assert.Equal($"MYORG-MY_ACCOUNT.JANE.DOE.{OpensslFingerprint}", (string)claims["iss"]!);
        Assert.Equal(1_800_000_000, (long)claims["iat"]!);
        var lifetime = (long)claims["exp"]! - (long)claims["iat"]!;
        Assert.InRange(lifetime, 60, 3600);
        using var publicKey = RSA.Create();
        publicKey.ImportFromPem(KeyPem);
        Assert.True(publicKey.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), FromBase64UrlBytes(parts[2]),
            HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    [Fact]
    public void EncryptedKey_LoadsWithItsPassphrase_AndHasTheSameFingerprint()
    {
        using var keyPair = new SnowflakeKeyPair("acct", "u", EncryptedKeyPem, "correct-horse");
        Assert.Equal(OpensslFingerprint, keyPair.Fingerprint);
        Assert.ThrowsAny<CryptographicException>(() => new SnowflakeKeyPair("acct", "u", EncryptedKeyPem, "wrong"));
    }

    [Theory]
    [InlineData("xy12345", "XY12345")]
    [InlineData("xy12345.us-east-1", "XY12345")]
    [InlineData("xy12345.us-east-2.aws", "XY12345")]
    [InlineData("myorg-myaccount", "MYORG-MYACCOUNT")]
    [InlineData("myorg.myaccount", "MYORG-MYACCOUNT")]
    public void JwtAccount_FollowsTheDocumentedRules(string account, string expected) =>
        Assert.Equal(expected, SnowflakeKeyPair.JwtAccount(account));

    [Theory]
    [InlineData("VARCHAR(16777216) COLLATE 'en-ci'", "'en-ci'")]
    [InlineData("VARCHAR(16777216) collate 'en-ci-rtrim'", "'en-ci-rtrim'")]
    [InlineData("VARCHAR(16777216) COLLATE 'utf8'", null)]
    [InlineData("VARCHAR(16777216)", null)]
    [InlineData("NUMBER(38,0)", null)]
    public void Collation_IsReadFromTheTypeDescribeTableShows(string type, string? collation) =>
        Assert.Equal(collation, SnowflakeTypes.Collation(type));

    [Fact]
    public void ColumnTypes_MapEveryPostgresKind()
    {
        (SourceColumn Column, string Type, string Binding)[] cases =
        [
            (Col(ValueKind.Int16), "NUMBER(5,0)", "FIXED"),
            (Col(ValueKind.Int32), "NUMBER(10,0)", "FIXED"),
            (Col(ValueKind.Int64), "NUMBER(19,0)", "FIXED"),
            (Col(ValueKind.NumericText, 12, 2), "NUMBER(12,2)", "FIXED"),
            (Col(ValueKind.NumericText, 3, -2), "VARCHAR", "TEXT"),
            (Col(ValueKind.NumericText, 38, 4), "NUMBER(38,4)", "FIXED"),
            (Col(ValueKind.NumericText, 38, 37), "NUMBER(38,37)", "FIXED"),
            // Snowflake's NUMBER has a scale of at most 37: CREATE TABLE refused NUMBER(38,38), failing the job.
            (Col(ValueKind.NumericText, 38, 38), "VARCHAR", "TEXT"),
            (Col(ValueKind.NumericText), "VARCHAR", "TEXT"),
            (Col(ValueKind.NumericText, 60, 10), "VARCHAR", "TEXT"),
            (Col(ValueKind.Float32), "FLOAT", "REAL"),
            (Col(ValueKind.Float64), "FLOAT", "REAL"),
            (Col(ValueKind.Bool), "BOOLEAN", "BOOLEAN"),
            (Col(ValueKind.Date), "DATE", "DATE"),
            (Col(ValueKind.Time), "TIME(6)", "TIME"),
            (Col(ValueKind.Timestamp), "TIMESTAMP_NTZ(6)", "TIMESTAMP_NTZ"),
            (Col(ValueKind.TimestampTz), "TIMESTAMP_TZ(6)", "TIMESTAMP_TZ"),
            (Col(ValueKind.Uuid), "VARCHAR(36)", "TEXT"),
            (Col(ValueKind.Jsonb), "VARIANT", "TEXT"),
            (Col(ValueKind.Json), "VARIANT", "TEXT"),
            (Col(ValueKind.Bytea), "BINARY", "BINARY"),
            (Col(ValueKind.Array), "ARRAY", "TEXT"),
            (Col(ValueKind.Text), "VARCHAR", "TEXT"),
            (Col(ValueKind.Enum), "VARCHAR", "TEXT"),
            (Col(ValueKind.OtherText), "VARCHAR", "TEXT"),
        ];
        foreach (var (column, type, binding) in cases)
        {
            Assert.Equal(type, SnowflakeTypes.ColumnType(column));
            Assert.Equal(binding, SnowflakeTypes.BindingType(column));
        }
        Assert.Equal("PARSE_JSON(c3)", SnowflakeTypes.FromBinding(Col(ValueKind.Jsonb), "c3"));
        Assert.Equal("c3", SnowflakeTypes.FromBinding(Col(ValueKind.Int32), "c3"));
    }

    [Fact]
    public void Bindings_EncodeEveryTypeAsTheSqlApiExpects()
    {
        string? Encode(ValueKind kind, object? value) => SnowflakeTypes.Encode(Col(kind), value);
        Assert.Null(Encode(ValueKind.Text, null));
        Assert.Equal("Grüße, 世界 🚀", Encode(ValueKind.Text, "Grüße, 世界 🚀"));
        Assert.Equal("-9223372036854775808", Encode(ValueKind.Int64, long.MinValue));
        Assert.Equal("12345678901234567890.1234567", Encode(ValueKind.NumericText, "12345678901234567890.1234567"));
        Assert.Equal("0.1", Encode(ValueKind.Float64, 0.1));
        Assert.Equal("NaN", Encode(ValueKind.Float64, double.NaN));
        Assert.Equal("-inf", Encode(ValueKind.Float32, float.NegativeInfinity));
        Assert.Equal("true", Encode(ValueKind.Bool, true));
        // Dates arrive as days since 2000-01-01. DATE: milliseconds since 1970; TIME: nanoseconds since midnight.
        Assert.Equal("86400000", Encode(ValueKind.Date, -10956));
        Assert.Equal("-86400000", Encode(ValueKind.Date, -10958));
        Assert.Equal("3723000001000", Encode(ValueKind.Time, 3_723_000_001L));
        // Timestamps arrive as microseconds since 2000-01-01. TIMESTAMP_NTZ: nanoseconds since 1970;
        // TIMESTAMP_TZ: nanoseconds and the offset in minutes plus 1440 (UTC → 1440).
        Assert.Equal("1709208000123456000", Encode(ValueKind.Timestamp, 762_523_200_123_456L));
        Assert.Equal("1709208000123456000 1440", Encode(ValueKind.TimestampTz, 762_523_200_123_456L));
        // 9999-12-31 23:59:59.999999: past 2262, where nanoseconds since 1970 no longer fit a long.
        Assert.Equal("253402300799999999000", Encode(ValueKind.Timestamp, 252_455_615_999_999_999L));
        Assert.Equal("00FF10", Encode(ValueKind.Bytea, new byte[] { 0x00, 0xFF, 0x10 }));
        Assert.Equal("{\"a\": [1, 2]}", Encode(ValueKind.Jsonb, "{\"a\": [1, 2]}"));
        Assert.Equal("6f1e9f3c-5b1a-4c1e-9f7a-2d3b4c5d6e7f", Encode(ValueKind.Uuid, Guid.Parse("6f1e9f3c-5b1a-4c1e-9f7a-2d3b4c5d6e7f")));
        Assert.Equal("[1,null,3]", Encode(ValueKind.Array, new int?[] { 1, null, 3 }));
    }

    [Fact]
    public void ValuesSnowflakeCannotHold_AreRefused_OthersAreNot()
    {
        Assert.Contains("years 1 to 9999", SnowflakeTypes.Refusal(Col(ValueKind.Date), PgTemporal.DateInfinity));
        Assert.Contains("years 1 to 9999", SnowflakeTypes.Refusal(Col(ValueKind.Date), -730_120 - 366)); // 0000-12-31 = 1 BC
        Assert.Null(SnowflakeTypes.Refusal(Col(ValueKind.Date), -730_119)); // 0001-01-01
        Assert.Null(SnowflakeTypes.Refusal(Col(ValueKind.Date), 2_921_939)); // 9999-12-31
        Assert.Contains("years 1 to 9999", SnowflakeTypes.Refusal(Col(ValueKind.Timestamp), PgTemporal.TimestampMinusInfinity));
        Assert.Contains("years 1 to 9999", SnowflakeTypes.Refusal(Col(ValueKind.TimestampTz), 252_455_616_000_000_000L)); // 10000-01-01
        Assert.Null(SnowflakeTypes.Refusal(Col(ValueKind.Timestamp), 252_455_615_999_999_999L));
        Assert.Contains("23:59:59", SnowflakeTypes.Refusal(Col(ValueKind.Time), PgTemporal.MicrosecondsPerDay));
        Assert.Contains("NUMBER(10,2)", SnowflakeTypes.Refusal(Col(ValueKind.NumericText, 10, 2), "NaN"));
        Assert.Null(SnowflakeTypes.Refusal(Col(ValueKind.NumericText), "NaN")); // unconstrained numerics are VARCHAR
        Assert.Null(SnowflakeTypes.Refusal(Col(ValueKind.NumericText, 10, 2), "-12.50"));
    }

    [Fact]
    public void FloatArrayElements_WithoutAJsonNumber_AreRefused()
    {
        Assert.Contains("holds the element NaN,", SnowflakeTypes.Refusal(Col(ValueKind.Array), new double?[] { 1.5, null, double.NaN }));
        Assert.Contains("holds the element -Infinity,", SnowflakeTypes.Refusal(Col(ValueKind.Array), new float?[] { float.NegativeInfinity }));
        Assert.Contains("holds the element -0,", SnowflakeTypes.Refusal(Col(ValueKind.Array), new double?[] { -0.0 }));
        Assert.Null(SnowflakeTypes.Refusal(Col(ValueKind.Array), new double?[] { 0.0, null, 1e308, -2.2250738585072014e-308 }));
        Assert.Equal("[0,null,1E+308]", SnowflakeTypes.Encode(Col(ValueKind.Array), new double?[] { 0.0, null, 1e308 }));
    }

    /// <summary>PARSE_JSON keeps a number as a NUMBER(38, s ≤ 37), or else as a DOUBLE: refused unless the DOUBLE prints back the same number.</summary>
    [Theory]
    [InlineData("[12345678901234567890123456789012345678]", null)] // 38 digits: a NUMBER
    [InlineData("[-0.1234567890123456789012345678901234567]", null)] // 37 after the point
    [InlineData("[1.5e2, 1E+300, -0, 0.1, 1.5e-50]", null)] // DOUBLEs that print back the same number
    [InlineData("{\"tiny\": 0.00000000000000000000000000000000000000000015}", null)] // 1.5e-43 as a DOUBLE
    [InlineData("[123456789012345678901234567890123456789]", "123456789012345678901234567890123456789")] // 39 digits
    [InlineData("{\"a\": {\"b\": [0.12345678901234567890123456789012345678]}}", "0.12345678901234567890123456789012345678")] // 38 after the point
    [InlineData("[1e400]", "1e400")]
    [InlineData("[1e-400]", "1e-400")]
    [InlineData("[1.00000000000000000001e5]", "1.00000000000000000001e5")]
    public void JsonNumbers_ThatAVariantWouldRound_AreRefused(string json, string? refused)
    {
        foreach (var kind in new[] { ValueKind.Json, ValueKind.Jsonb })
        {
            var refusal = SnowflakeTypes.Refusal(Col(kind), json);
            if (refused is null) Assert.Null(refusal);
            else Assert.Contains($"holds the number {refused},", refusal);
        }
    }

    [Fact]
    public void Identifiers_AreAlwaysQuoted_AndLiteralsEscapeQuotesAndBackslashes()
    {
        Assert.Equal("\"order\"", SnowflakeSql.Ident("order"));
        Assert.Equal("\"we\"\"ird name\"", SnowflakeSql.Ident("we\"ird name"));
        Assert.Equal("'it''s a \\\\ path'", SnowflakeSql.Literal("it's a \\ path"));
    }

    private static SourceColumn Col(ValueKind kind, int? precision = null, int? scale = null) =>
        ComponentTests.Column("c", "t", kind) with { Precision = precision, Scale = scale };

    private static string FromBase64Url(string text) => Encoding.UTF8.GetString(FromBase64UrlBytes(text));

    private static byte[] FromBase64UrlBytes(string text)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded.PadRight(padded.Length + (4 - padded.Length % 4) % 4, '='));
    }
}
