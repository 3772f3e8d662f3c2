using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;
using BackfillStudio.TestSupport.Snowflake;
using DuckDB.NET.Data;

namespace BackfillStudio.Tests.Snowflake;

/// <summary>A Snowflake account on the local SQL API emulator: the test user holds the test key pair.</summary>
public sealed class SnowflakeAccount : IAsyncDisposable
{
    public const string Account = "testorg-testacct";
    public const string User = "loader";
    public const string Database = "ANALYTICS";
    public const string Schema = "PUBLIC";
    public const string Warehouse = "LOAD_WH";
    public const string Passphrase = "correct-horse";

    private SnowflakeAccount(SnowflakeEmulator emulator) => Emulator = emulator;

    public SnowflakeEmulator Emulator { get; }

    public static async Task<SnowflakeAccount> StartAsync()
    {
        var emulator = await SnowflakeEmulator.StartAsync();
        var publicKey = RSA.Create();
        publicKey.ImportFromPem(SnowflakeUnitTests.KeyPem);
        emulator.RegisterUser(Account, User, publicKey);
        emulator.AddDatabase(Database, Schema, Warehouse);
        return new SnowflakeAccount(emulator);
    }

    /// <summary>The destination config: the encrypted test key with its passphrase, pointed at the emulator.</summary>
    public JsonObject Config(string? privateKey = null, string warehouse = Warehouse) => new()
    {
        ["account"] = Account, ["user"] = User,
        ["private_key"] = privateKey ?? SnowflakeUnitTests.EncryptedKeyPem,
        ["private_key_passphrase"] = privateKey is null ? Passphrase : null,
        ["warehouse"] = warehouse, ["database"] = Database, ["schema"] = Schema,
        ["base_url"] = Emulator.BaseUrl.ToString(),
    };

    /// <summary>The target table's rows in the canonical form <see cref="TableContents"/> compares.</summary>
    public Task<List<string>> ContentsAsync(string sourceDb, string table) =>
        TableContents.FromDuckDbAsync(sourceDb, "public", table, Emulator.DatabasePath, $"{TableContents.Q(Schema)}.{TableContents.Q(table)}");

    public long Scalar(string sql)
    {
        using var connection = new DuckDBConnection($"Data Source={Emulator.DatabasePath}");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar());
    }

    public bool TableExists(string table) =>
        Scalar($"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{Schema}' AND table_name = '{table.Replace("'", "''")}'") > 0;

    public ValueTask DisposeAsync() => Emulator.DisposeAsync();
}
