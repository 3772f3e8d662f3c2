using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Sources;

namespace BackfillStudio.Web.Components.Shared;

/// <summary>Shows sources and destinations by name where a pipeline refers to them by id.</summary>
public sealed class SetupNames(IEnumerable<SourceView> sources, IEnumerable<DestinationView> destinations)
{
    public static readonly SetupNames Empty = new([], []);

    private readonly Dictionary<int, string> _sources = sources.ToDictionary(s => s.Id, s => s.Name);
    private readonly Dictionary<int, string> _destinations = destinations.ToDictionary(d => d.Id, d => $"{d.Name} ({d.Type})");

    public string Source(int id) => _sources.GetValueOrDefault(id, $"#{id}");

    public string Destinations(IEnumerable<int> ids) => string.Join(", ", ids.Select(id => _destinations.GetValueOrDefault(id, $"#{id}")));
}
