using BackfillStudio.Engine.Common;

namespace BackfillStudio.Web.Components.Shared;

/// <summary>The field errors of a failed service call, looked up by the field they concern (keys as the API names them).</summary>
public sealed class FieldErrors(IReadOnlyDictionary<string, string[]>? errors = null)
{
    public static readonly FieldErrors None = new();

    public FieldErrors(ValidationFailedException e) : this(e.Errors)
    {
    }

    public IReadOnlyDictionary<string, string[]> All => errors ?? new Dictionary<string, string[]>();

    public string? this[string field] => errors is not null && errors.TryGetValue(field, out var messages) ? string.Join(" ", messages) : null;
}
