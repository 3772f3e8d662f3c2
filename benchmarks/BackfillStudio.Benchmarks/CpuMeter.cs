using System.Diagnostics;
using System.Globalization;

namespace BackfillStudio.Benchmarks;

/// <summary>
/// How many core-seconds the machine's cores were busy during a run (from <c>/proc/stat</c>), and how many of them one
/// process used (the app, for a job). On a small machine a copy is bound by the cores that the source's backend, the
/// target's and the engine share: beside the elapsed time these say who used them, and how many were left idle.
/// </summary>
internal sealed class CpuMeter
{
    private readonly Process? _process;
    private readonly TimeSpan _processStart;
    private readonly MachineTicks _start = MachineTicks.Read();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private CpuMeter(Process? process)
    {
        _process = process;
        _processStart = process?.TotalProcessorTime ?? TimeSpan.Zero;
    }

    /// <param name="process">Whose own CPU time to count too; null for the machine's alone.</param>
    public static CpuMeter Start(Process? process = null) => new(process);

    public CpuUse Stop()
    {
        var wall = _clock.Elapsed.TotalSeconds;
        var end = MachineTicks.Read();
        var busyShare = (double)(end.Busy - _start.Busy) / Math.Max(1, end.Total - _start.Total);
        _process?.Refresh();
        return new CpuUse(busyShare * wall * end.Cores, wall * end.Cores, (_process?.TotalProcessorTime - _processStart)?.TotalSeconds);
    }

    /// <summary>
    /// The first line of /proc/stat: "cpu user nice system idle iowait irq softirq steal ..." summed over all cores, in
    /// clock ticks. Idle and iowait are idle; steal (the hypervisor's) is neither ours nor free, so it counts only in the total.
    /// </summary>
    private readonly record struct MachineTicks(long Busy, long Total, int Cores)
    {
        public static MachineTicks Read()
        {
            var lines = File.ReadAllLines("/proc/stat");
            var ticks = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(t => long.Parse(t, CultureInfo.InvariantCulture)).ToArray();
            var cores = lines.Count(l => l.StartsWith("cpu", StringComparison.Ordinal) && char.IsAsciiDigit(l[3]));
            return new MachineTicks(ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6], ticks.Sum(), cores);
        }
    }
}

/// <summary>
/// <paramref name="BusyCoreSeconds"/> of the <paramref name="AvailableCoreSeconds"/> (cores × elapsed) the machine had;
/// <paramref name="ProcessSeconds"/>: the measured process's share of the busy ones.
/// </summary>
internal readonly record struct CpuUse(double BusyCoreSeconds, double AvailableCoreSeconds, double? ProcessSeconds)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{BusyCoreSeconds,5:F1}/{AvailableCoreSeconds,-5:F1}") + (ProcessSeconds is { } app ? string.Create(CultureInfo.InvariantCulture, $" app {app,4:F1}") : "");
}
