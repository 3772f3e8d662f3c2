using System.Security.Cryptography;
using Npgsql;

namespace BackfillStudio.Web.Hosting;

/// <summary>
/// A PostgreSQL cluster of this machine's PostgreSQL binaries under a data folder, listening on
/// 127.0.0.1 only, with a generated superuser password kept in the folder. Used by the embedded
/// default (no config database configured) and by the tests. When the process runs as root the
/// server runs as the <c>postgres</c> user, because PostgreSQL refuses to run as root.
/// </summary>
public sealed class LocalPostgresCluster
{
    public const string Superuser = "postgres";

    private readonly string _bin;
    private readonly string _dataDirectory;

    public int Port { get; }
    public string Password { get; }

    private LocalPostgresCluster(string bin, string dataDirectory, int port, string password)
    {
        _bin = bin;
        _dataDirectory = dataDirectory;
        Port = port;
        Password = password;
    }

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>The newest <c>/usr/lib/postgresql/*/bin</c> (or <c>$PG_BIN</c>) that has initdb.</summary>
    public static string? FindBinDirectory()
    {
        var configured = Environment.GetEnvironmentVariable("PG_BIN");
        if (!string.IsNullOrEmpty(configured)) return File.Exists(Path.Combine(configured, "initdb")) ? configured : null;
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root)) return null;
        return Directory.GetDirectories(root)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: double.TryParse(Path.GetFileName(d), out var v) ? v : 0))
            .Where(d => File.Exists(Path.Combine(d.Dir, "initdb")))
            .OrderByDescending(d => d.Version)
            .Select(d => d.Dir)
            .FirstOrDefault();
    }

    /// <summary>Creates the cluster on first use, then starts it (or reuses it when already running).</summary>
    public static async Task<LocalPostgresCluster> StartAsync(string dataDirectory, int port, bool throwaway = false, CancellationToken ct = default)
    {
        var bin = FindBinDirectory() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries were not found (looked in /usr/lib/postgresql/*/bin and $PG_BIN). Install them with: apt-get install -y postgresql");
        dataDirectory = Path.GetFullPath(dataDirectory);
        var passwordFile = dataDirectory + ".password";
        if (!File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            Directory.CreateDirectory(dataDirectory);
            var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
            var initPasswordFile = Path.Combine(Path.GetTempPath(), $"pginit-{Guid.NewGuid():N}");
            await File.WriteAllTextAsync(initPasswordFile, password, ct);
            try
            {
                await ChownAsync(dataDirectory, ct);
                await ChownAsync(initPasswordFile, ct);
                await RunAsServerUserAsync(Path.Combine(bin, "initdb"),
                    ["-D", dataDirectory, "-U", Superuser, "-A", "scram-sha-256", "--pwfile", initPasswordFile, "-E", "UTF8", "--locale=C.UTF-8"], ct);
            }
            finally
            {
                File.Delete(initPasswordFile);
            }
            await File.WriteAllTextAsync(passwordFile, password, ct);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var cluster = new LocalPostgresCluster(bin, dataDirectory, port, (await File.ReadAllTextAsync(passwordFile, ct)).Trim());
        if (!await cluster.IsRunningAsync(ct))
        {
            var settings = $"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections={(throwaway ? 400 : 200)}";
            if (throwaway) settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
            await RunAsServerUserAsync(Path.Combine(bin, "pg_ctl"),
                ["-D", dataDirectory, "-o", settings, "-l", Path.Combine(dataDirectory, "server.log"), "-w", "-t", "60", "start"], ct);
        }
        return cluster;
    }

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Superuser,
        Password = Password,
        Database = database,
    }.ConnectionString;

    public async Task CreateDatabaseIfMissingAsync(string database, CancellationToken ct = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", database);
        if (await exists.ExecuteScalarAsync(ct) is not null) return;
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"")}\"", connection);
        await create.ExecuteNonQueryAsync(ct);
    }

    /// <param name="immediately">Stops as a crash would: no shutdown checkpoint, what is not in the WAL on disk is lost.</param>
    public Task StopAsync(bool immediately = false, CancellationToken ct = default) =>
        RunAsServerUserAsync(Path.Combine(_bin, "pg_ctl"), ["-D", _dataDirectory, "-m", immediately ? "immediate" : "fast", "-w", "stop"], ct);

    private async Task<bool> IsRunningAsync(CancellationToken ct)
    {
        try
        {
            await RunAsServerUserAsync(Path.Combine(_bin, "pg_ctl"), ["-D", _dataDirectory, "status"], ct);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static Task RunAsServerUserAsync(string tool, IReadOnlyList<string> arguments, CancellationToken ct) => IsRoot
        ? ProcessRunner.RunAsync("runuser", ["-u", Superuser, "--", tool, .. arguments], ct)
        : ProcessRunner.RunAsync(tool, arguments, ct);

    private static async Task ChownAsync(string path, CancellationToken ct)
    {
        if (IsRoot) await ProcessRunner.RunAsync("chown", ["-R", $"{Superuser}:{Superuser}", path], ct);
    }
}
