using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Api;

public sealed class DataProtectionTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1);";

    [Fact]
    public async Task WithACertificate_TheKeysThemselvesAreEncryptedAtRest_AndSecretsStillWork()
    {
        var folder = Directory.CreateTempSubdirectory("backfill-dp-").FullName;
        try
        {
            var certificatePath = Path.Combine(folder, "keys.pfx");
            using (var rsa = RSA.Create(2048))
            {
                var request = new CertificateRequest("CN=BackfillStudio data protection", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
                await File.WriteAllBytesAsync(certificatePath, certificate.Export(X509ContentType.Pfx, "pfx-pass"));
            }

            await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres,
                "--Backfill:EngineEnabled=false", $"--DataProtection:CertificatePath={certificatePath}", "--DataProtection:CertificatePassword=pfx-pass");

            var keyXml = await PostgresServer.ScalarAsync<string>(s.ConfigDb, "SELECT string_agg(xml, '') FROM data_protection_keys");
            // Unprotected, the master key sits in a <value> element; protected, only an <encryptedSecret> is stored.
            Assert.Contains("encryptedSecret", keyXml);
            Assert.DoesNotContain("<value>", keyXml);
            var (_, test) = await s.Http.PostJsonAsync($"/api/v1/sources/{s.SourceId}/test");
            Assert.True((bool)test["success"]!, test.ToJsonString());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
