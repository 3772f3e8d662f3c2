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

    [Fact]
    public void ColumnTypes_MapEveryPostgresKind()
    {
        (SourceColumn Column, string Type, string Binding)[] cases =
        [
            (Col(ValueKind.Int16), "NUMBER(5,0)", "FIXED"),
            (Col(ValueKind.Int32), "NUMBER(10,0)", "FIXED"),
            (Col(ValueKind.Int64), "NUMBER(19,0)", "FIXED"),
            (Col(ValueKind.Decimal, 12, 2), "NUMBER(12,2)", "FIXED"),
            (Col(ValueKind.NumericText, 38, 4), "NUMBER(38,4)", "FIXED"),
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
        Assert.Null(SnowflakeTypes.Encode(null));
        Assert.Equal("Grüße, 世界 🚀", SnowflakeTypes.Encode("Grüße, 世界 🚀"));
        Assert.Equal("-9223372036854775808", SnowflakeTypes.Encode(long.MinValue));
        Assert.Equal("12345678901234567890.1234567", SnowflakeTypes.Encode(12345678901234567890.1234567m));
        Assert.Equal("0.1", SnowflakeTypes.Encode(0.1));
        Assert.Equal("NaN", SnowflakeTypes.Encode(double.NaN));
        Assert.Equal("-inf", SnowflakeTypes.Encode(float.NegativeInfinity));
        Assert.Equal("true", SnowflakeTypes.Encode(true));
        // DATE: milliseconds since the epoch; TIME: nanoseconds since midnight.
        Assert.Equal("86400000", SnowflakeTypes.Encode(new DateOnly(1970, 1, 2)));
        Assert.Equal("-86400000", SnowflakeTypes.Encode(new DateOnly(1969, 12, 31)));
        Assert.Equal("3723000001000", SnowflakeTypes.Encode(new TimeOnly(1, 2, 3).Add(TimeSpan.FromMicroseconds(1))));
        // TIMESTAMP_NTZ: nanoseconds; TIMESTAMP_TZ: nanoseconds and the offset in minutes plus 1440 (UTC → 1440).
        var instant = new DateTime(2024, 2, 29, 12, 0, 0, DateTimeKind.Unspecified).AddTicks(1234560);
        Assert.Equal("1709208000123456000", SnowflakeTypes.Encode(instant));
        Assert.Equal("1709208000123456000 1440", SnowflakeTypes.Encode(DateTime.SpecifyKind(instant, DateTimeKind.Utc)));
        Assert.Equal("00FF10", SnowflakeTypes.Encode(new byte[] { 0x00, 0xFF, 0x10 }));
        Assert.Equal("{\"a\": [1, 2]}", SnowflakeTypes.Encode("{\"a\": [1, 2]}"));
        Assert.Equal("6f1e9f3c-5b1a-4c1e-9f7a-2d3b4c5d6e7f", SnowflakeTypes.Encode(Guid.Parse("6f1e9f3c-5b1a-4c1e-9f7a-2d3b4c5d6e7f")));
        Assert.Equal("[1,null,3]", SnowflakeTypes.Encode(new int?[] { 1, null, 3 }));
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
