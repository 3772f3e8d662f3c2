using System.Globalization;
using System.Net;
using System.Text;

namespace BackfillStudio.Benchmarks;

/// <summary>The benchmark's results as a text table, a bar chart (SVG) and the page docs/benchmarks.md.</summary>
internal static class BenchmarkReport
{
    public static string Table(IReadOnlyList<Result> results)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"table rows",11}  {"run",-38} {"rows",10} {"seconds",8} {"rows/s",10} {"peak RSS",10}  {"CPU core-s",-20}  vs baseline");
        foreach (var r in results)
        {
            var peak = r.PeakBytes is { } p ? $"{p / 1048576.0:F0} MiB" : "-";
            var cpu = r.Cpu?.ToString() ?? "-";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{r.TableRows,11:N0}  {r.Run,-38} {r.Rows,10:N0} {r.Elapsed.TotalSeconds,8:F2} {r.RowsPerSecond,10:N0} {peak,10}  {cpu,-20}  {Ratio(results, r)}");
        }
        return text.ToString();
    }

    /// <summary>"0.52x psql pipe": the run's rows/s against its baseline's in the same table size; "baseline" for a baseline.</summary>
    private static string Ratio(IReadOnlyList<Result> results, Result r) =>
        results.FirstOrDefault(b => b.TableRows == r.TableRows && b.Run == r.Against) is { } baseline
            ? $"{r.RowsPerSecond / baseline.RowsPerSecond:F2}x {baseline.Run}"
            : r.Against is null ? "baseline" : "-";

    /// <summary>Rows/s of every copy (not the verifications) at the largest table size, baselines in grey.</summary>
    public static string Chart(IReadOnlyList<Result> results)
    {
        var size = results.Max(r => r.TableRows);
        var runs = results.Where(r => r.TableRows == size && !r.Run.TrimStart().StartsWith("verify", StringComparison.Ordinal)).ToList();
        const int left = 300, barHeight = 22, gap = 8, width = 1000, top = 40;
        var max = runs.Max(r => r.RowsPerSecond);
        var height = top + runs.Count * (barHeight + gap) + 20;
        var svg = SvgStart(width, height, $"Rows per second, {size:N0}-row table (grey: baselines measured in the same run; light blue: DuckDB alone, the floor of its destinations)");
        for (var i = 0; i < runs.Count; i++)
        {
            var r = runs[i];
            var y = top + i * (barHeight + gap);
            // Room on the right for the figure and its ratio.
            var bar = (int)((width - left - 330) * r.RowsPerSecond / max);
            var fill = r.Against is null ? "#9e9e9e" : r.IsFloor ? "#9cc3f5" : "#1e6fd9";
            var label = WebUtility.HtmlEncode(r.Run.Trim() + (r.Rows != r.TableRows ? $" ({r.Rows:N0} rows)" : ""));
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{left - 8}" y="{y + 16}" text-anchor="end">{label}</text>""");
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<rect x="{left}" y="{y}" width="{Math.Max(bar, 1)}" height="{barHeight}" fill="{fill}"/>""");
            var ratio = r.Against is null ? "" : $"  ({WebUtility.HtmlEncode(Ratio(results, r))})";
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{left + bar + 6}" y="{y + 16}">{r.RowsPerSecond:N0}{ratio}</text>""");
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    /// <summary>
    /// Where each run's cores went at the largest table size: the app's core-seconds, the rest of the machine's busy ones
    /// (PostgreSQL's backends, psql), and the idle ones, of cores × the run's seconds.
    /// </summary>
    public static string CpuChart(IReadOnlyList<Result> results)
    {
        var size = results.Max(r => r.TableRows);
        var runs = results.Where(r => r.TableRows == size && r.Cpu is not null).ToList();
        const int left = 300, barHeight = 22, gap = 8, width = 900, top = 64;
        var scale = (width - left - 170) / runs.Max(r => r.Cpu!.Value.AvailableCoreSeconds);
        var height = top + runs.Count * (barHeight + gap) + 20;
        (string Fill, string Label)[] parts = [("#1e6fd9", "the app"), ("#f08c2e", "PostgreSQL's backends, psql"), ("#d9d9d9", "idle")];
        var svg = SvgStart(width, height, $"Core-seconds of each run, {size:N0}-row table (cores × the run's seconds)");
        for (var i = 0; i < parts.Length; i++)
        {
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<rect x="{10 + i * 220}" y="34" width="14" height="14" fill="{parts[i].Fill}"/>""");
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{30 + i * 220}" y="46">{WebUtility.HtmlEncode(parts[i].Label)}</text>""");
        }
        for (var i = 0; i < runs.Count; i++)
        {
            var cpu = runs[i].Cpu!.Value;
            var y = top + i * (barHeight + gap);
            var app = cpu.ProcessSeconds ?? 0;
            double[] seconds = [app, cpu.BusyCoreSeconds - app, cpu.AvailableCoreSeconds - cpu.BusyCoreSeconds];
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{left - 8}" y="{y + 16}" text-anchor="end">{WebUtility.HtmlEncode(runs[i].Run.Trim())}</text>""");
            var x = left;
            for (var p = 0; p < parts.Length; p++)
            {
                var w = (int)Math.Round(Math.Max(0, seconds[p]) * scale);
                svg.AppendLine(CultureInfo.InvariantCulture, $"""<rect x="{x}" y="{y}" width="{w}" height="{barHeight}" fill="{parts[p].Fill}"/>""");
                x += w;
            }
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{x + 6}" y="{y + 16}">{WebUtility.HtmlEncode(cpu.ToString().Trim())}</text>""");
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    /// <summary>A chart's start: the SVG element, a white background and the title.</summary>
    private static StringBuilder SvgStart(int width, int height, string title)
    {
        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture,
            $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">""");
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<rect width="{width}" height="{height}" fill="white"/>""");
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="10" y="22" font-size="15" font-weight="bold">{WebUtility.HtmlEncode(title)}</text>""");
        return svg;
    }

    public static string Markdown(string arguments, string table, IReadOnlyList<string> timings, string wideRows) => $"""
        # Benchmarks

        Written by `benchmarks/run.sh {arguments}` on {DateTime.UtcNow:yyyy-MM-dd}, on a machine with {Environment.ProcessorCount} cores
        running the source, the destination, the config database and the app. Every ratio is against a baseline measured in
        the same run, on the same cluster, with the table's pages already read once:

        - PostgreSQL → PostgreSQL against `psql \copy (select * ...) to stdout (format binary) | psql \copy ... from stdin (format binary)`;
        - DuckDB and Parquet against the read limit: the source's `COPY (select * ...) TO STDOUT (FORMAT binary)` into /dev/null;
        - a job whose filter matches 10 % of the rows through an index (`customer_id < 10000`) against the same
          `select ... where` piped by psql.

        ![Rows per second of each run](benchmarks.svg)

        ```
        {table.TrimEnd()}
        ```

        {string.Join("\n", timings.Select(t => $"- {t}"))}

        CPU core-s: how many core-seconds the machine's cores were busy during the run, of the cores × seconds it had
        (`/proc/stat`; a job's from its POST until it was seen COMPLETED), and of those the app's own (`app`): the rest
        is PostgreSQL's backends (the source's, the target's, the config database's) and, for the baselines, psql's. A run
        that leaves no core idle is bound by the sum of what its processes need, not by any one of them.

        ![Core-seconds of each run: the app's, the rest of the machine's, idle](benchmarks-cpu.svg)

        Peak RSS is the app's whole process (web UI, engine, DuckDB's buffers) at the end of each job (`VmHWM` in
        `/proc/<pid>/status`). Rows of about 1 MB, against the memory bound:

        ```
        {wideRows.TrimEnd()}
        ```

        This machine's figures vary by ±30 % from run to run: compare ratios within one run, not across runs.
        """;
}
