using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BackfillStudio.TestSupport.Snowflake;

namespace BackfillStudio.Benchmarks;

/// <summary>
/// A Snowflake destination on the SQL API emulator the tests use, to count the statement requests a job sends. Its rows/s
/// are the emulator's (statements run one at a time on a DuckDB file), not Snowflake's.
/// </summary>
internal sealed class EmulatedSnowflake : IAsyncDisposable
{
    private const string Account = "bench-acct";
    private const string User = "loader";
    private readonly SnowflakeEmulator _emulator;
    private readonly RSA _key;

    private EmulatedSnowflake(SnowflakeEmulator emulator, RSA key)
    {
        _emulator = emulator;
        _key = key;
    }

    public static async Task<EmulatedSnowflake> StartAsync()
    {
        var emulator = await SnowflakeEmulator.StartAsync();
        var key = RSA.Create(2048);
        emulator.RegisterUser(Account, User, key);
        emulator.AddDatabase("BENCH", "PUBLIC", "BENCH_WH");
        return new EmulatedSnowflake(emulator, key);
    }

    public JsonObject Config => new()
    {
        ["account"] = Account, ["user"] = User, ["private_key"] = _key.ExportPkcs8PrivateKeyPem(),
        ["warehouse"] = "BENCH_WH", ["database"] = "BENCH", ["schema"] = "PUBLIC", ["base_url"] = _emulator.BaseUrl.ToString(),
    };

    /// <summary>Statement requests naming <paramref name="table"/> (first sends; retries and status polls not counted).</summary>
    public int StatementRequests(string table) => _emulator.Requests.Count(r => r.Method == "POST" && !r.Retry
        && r.Statement?.Contains(table, StringComparison.OrdinalIgnoreCase) == true);

    public async ValueTask DisposeAsync()
    {
        await _emulator.DisposeAsync();
        _key.Dispose();
    }
}
