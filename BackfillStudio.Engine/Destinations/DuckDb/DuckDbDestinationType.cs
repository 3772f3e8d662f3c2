using Microsoft.Extensions.Logging;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Verification;

namespace BackfillStudio.Engine.Destinations.DuckDb;

public sealed record DuckDbDestinationSettings(string Path, string Schema) : DestinationSettings
{
    public override IEnumerable<string?> Secrets => [];

    /// <summary>
    /// A DuckDB file has one writer at a time (<see cref="DuckDbFileLocks"/>), and engine processes take turns with it:
    /// chunks would only queue for it, or, on two engines, keep requeuing each other.
    /// </summary>
    public override bool TakesConcurrentWriters => false;

    /// <summary>The file's connection string, built so that a path holding ';' or '=' stays a path.</summary>
    public static string ConnectionString(string path) => new DuckDB.NET.Data.DuckDBConnectionStringBuilder { DataSource = System.IO.Path.GetFullPath(path) }.ConnectionString;
}

public sealed class DuckDbDestinationType : DestinationType<DuckDbDestinationSettings>
{
    public override string Name => "duckdb";

    public override bool IsLocal => true;

    public override IReadOnlyList<DestinationField> Fields { get; } =
    [
        new("path", "Database file", Required: true, Help: "Path of the .duckdb file on the engine's machine; created if missing"),
        new("schema", "Schema", Help: "main when empty"),
    ];

    protected override DuckDbDestinationSettings ParseSettings(ConfigReader config, ValidationErrors errors) =>
        new(config.Path("path"), config.Optional("schema") ?? "main");

    protected override IDestinationWriter CreateWriter(DuckDbDestinationSettings settings, WriteTarget target, DestinationContext context) =>
        new DuckDbDestinationWriter(settings, target, context.Options.DuckDbMemoryLimit, context.Loggers.CreateLogger<DuckDbDestinationWriter>());

    protected override IDestinationVerifier CreateVerifier(DuckDbDestinationSettings settings, VerifyScope scope, string destination, DestinationContext context) =>
        new DuckDbVerifier(settings, scope, destination);

    protected override Task<string> TestAsync(DuckDbDestinationSettings settings, DestinationContext context, CancellationToken ct) =>
        DuckDbDestinationWriter.TestAsync(settings);

    public override string Summary(Func<string, string?> config) => config("path") ?? "";
}
