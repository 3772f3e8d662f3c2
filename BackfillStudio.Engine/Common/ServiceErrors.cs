namespace BackfillStudio.Engine.Common;

/// <summary>Input that failed validation; keys name the offending field (e.g. <c>filters[1].value</c>).</summary>
public sealed class ValidationFailedException(IReadOnlyDictionary<string, string[]> errors)
    : Exception("One or more fields are invalid: " + Describe(errors))
{
    /// <summary>Each field with its messages (no setting's value is among them).</summary>
    public static string Describe(IReadOnlyDictionary<string, string[]> errors) => string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"));

    public IReadOnlyDictionary<string, string[]> Errors { get; } = errors;

    public static ValidationFailedException For(string field, string message) => new(new Dictionary<string, string[]> { [field] = [message] });
}

public sealed class NotFoundException(string message) : Exception(message);

public sealed class ConflictException(string message) : Exception(message);

/// <summary>Collects field errors and throws them together.</summary>
public sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = [];

    public bool Any => _errors.Count > 0;

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list)) _errors[field] = list = [];
        list.Add(message);
    }

    public void AddAll(ValidationFailedException failed)
    {
        foreach (var (field, messages) in failed.Errors)
            foreach (var message in messages) Add(field, message);
    }

    private Dictionary<string, string[]> ToDictionary() => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray());

    public override string ToString() => ValidationFailedException.Describe(ToDictionary());

    public void ThrowIfAny()
    {
        if (Any) throw new ValidationFailedException(ToDictionary());
    }
}
