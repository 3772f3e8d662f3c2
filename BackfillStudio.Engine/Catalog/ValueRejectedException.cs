using BackfillStudio.Engine.Common;

namespace BackfillStudio.Engine.Catalog;

/// <summary>
/// A value that cannot arrive exactly (nor in a documented lossless form) where it is going: the job
/// fails before writing the batch, naming the table, the column and the value.
/// </summary>
public sealed class ValueRejectedException(string table, string column, string value, string reason)
    : Exception($"Table {table}, column \"{column}\": value '{Messages.Shorten(value)}' {reason}")
{
    /// <summary>Throws for the first non-null value that <paramref name="refusal"/> (a destination's rule) gives a reason for.</summary>
    public static void ThrowIfAny(TableSchema table, IReadOnlyList<object?[]> rows, Func<SourceColumn, object, string?> refusal)
    {
        var columns = table.Columns;
        foreach (var row in rows)
        {
            for (var i = 0; i < columns.Count; i++)
            {
                if (row[i] is { } value && refusal(columns[i], value) is { } reason)
                    throw new ValueRejectedException(table.TableName, columns[i].Name, PgTemporal.Format(columns[i].Kind, value), reason);
            }
        }
    }
}
