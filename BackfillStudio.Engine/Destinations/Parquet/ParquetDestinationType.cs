using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Verification;

namespace BackfillStudio.Engine.Destinations.Parquet;

public sealed record ParquetDestinationSettings(string Path) : DestinationSettings
{
    public override IEnumerable<string?> Secrets => [];
}

public sealed class ParquetDestinationType : DestinationType<ParquetDestinationSettings>
{
    public override string Name => "parquet";

    public override bool IsLocal => true;

    public override IReadOnlyList<DestinationField> Fields { get; } =
        [new("path", "Folder", Required: true, Help: "One folder per table, one file per batch, on the engine's machine")];

    protected override ParquetDestinationSettings ParseSettings(ConfigReader config, ValidationErrors errors) => new(config.Path("path"));

    protected override IDestinationWriter CreateWriter(ParquetDestinationSettings settings, WriteTarget target, DestinationContext context) =>
        new ParquetDestinationWriter(settings, target);

    protected override IDestinationVerifier CreateVerifier(ParquetDestinationSettings settings, VerifyScope scope, string destination, DestinationContext context) =>
        new ParquetVerifier(settings, scope, destination);

    protected override Task<string> TestAsync(ParquetDestinationSettings settings, DestinationContext context, CancellationToken ct) =>
        ParquetDestinationWriter.TestAsync(settings);

    public override string Summary(Func<string, string?> config) => config("path") ?? "";
}
