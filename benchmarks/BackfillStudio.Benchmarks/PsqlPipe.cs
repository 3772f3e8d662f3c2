using System.Diagnostics;
using BackfillStudio.Web.Hosting;
using Npgsql;

namespace BackfillStudio.Benchmarks;

/// <summary>The baseline: <c>psql \copy (select ...) to stdout (format binary) | psql \copy ... from stdin (format binary)</c>.</summary>
public static class PsqlPipe
{
    public static async Task<TimeSpan> RunAsync(LocalPostgresCluster cluster, string source, string target, string table)
    {
        var psql = Path.Combine(LocalPostgresCluster.FindBinDirectory()!, "psql");
        var from = new NpgsqlConnectionStringBuilder(source);
        var to = new NpgsqlConnectionStringBuilder(target);
        var script = $"""
            set -eo pipefail
            {psql} -h 127.0.0.1 -p {cluster.Port} -U {LocalPostgresCluster.Superuser} -d {from.Database} -qc '\copy (select * from {table}) to stdout (format binary)' \
              | {psql} -h 127.0.0.1 -p {cluster.Port} -U {LocalPostgresCluster.Superuser} -d {to.Database} -qc '\copy {table} from stdin (format binary)'
            """;
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
