using System.Diagnostics;
using BackfillStudio.Web.Hosting;
using Npgsql;

namespace BackfillStudio.Benchmarks;

/// <summary>
/// The baselines: <c>psql \copy (select ...) to stdout (format binary) | psql \copy ... from stdin (format binary)</c>, and
/// the source's read limit, the same COPY into /dev/null.
/// </summary>
public static class PsqlPipe
{
    public static Task<TimeSpan> RunAsync(LocalPostgresCluster cluster, string source, string target, string table, string select) =>
        RunScriptAsync(cluster, $"""
            set -eo pipefail
            {Psql(cluster, source)} -qc '\copy ({select}) to stdout (format binary)' | {Psql(cluster, target)} -qc '\copy {table} from stdin (format binary)'
            """);

    public static Task<TimeSpan> ReadLimitAsync(LocalPostgresCluster cluster, string source, string select) =>
        RunScriptAsync(cluster, $"{Psql(cluster, source)} -qc '\\copy ({select}) to stdout (format binary)' > /dev/null");

    private static string Psql(LocalPostgresCluster cluster, string database) =>
        $"{Path.Combine(LocalPostgresCluster.FindBinDirectory()!, "psql")} -h 127.0.0.1 -p {cluster.Port} -U {LocalPostgresCluster.Superuser} " +
        $"-d {new NpgsqlConnectionStringBuilder(database).Database}";

    private static async Task<TimeSpan> RunScriptAsync(LocalPostgresCluster cluster, string script)
    {
        var info = new ProcessStartInfo("bash", ["-c", script]) { RedirectStandardError = true };
        info.Environment["PGPASSWORD"] = cluster.Password;
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        watch.Stop();
        if (process.ExitCode != 0) throw new InvalidOperationException($"psql pipe failed: {errors}");
        return watch.Elapsed;
    }
}
