using System.Globalization;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>A result-set column as the SQL API describes it in <c>rowType</c>.</summary>
internal sealed record ResultColumn(string Name, string Type, int? Precision = null, int? Scale = null, int? Length = null);

/// <summary>Rows changed by a DML statement, reported under <c>stats</c>.</summary>
internal sealed record DmlStats(long Inserted, long Updated, long Deleted);

/// <summary>What one statement produced: columns, rows of cells in the SQL API's text encodings, and DML counts.</summary>
internal sealed record StatementResult(IReadOnlyList<ResultColumn> Columns, IReadOnlyList<string?[]> Rows, DmlStats? Stats = null)
{
    /// <summary>The one-cell result of statements that return no rows (DDL, transaction control).</summary>
    public static StatementResult Status(string message, string column = "status") =>
        new([new ResultColumn(column, "text")], [new string?[] { message }]);

    /// <summary>Snowflake answers DML with the affected row count, in a column named after the verb.</summary>
    public static StatementResult Dml(string verb, long count)
    {
        var (column, stats) = verb switch
        {
            "UPDATE" => ("number of rows updated", new DmlStats(0, count, 0)),
            "DELETE" => ("number of rows deleted", new DmlStats(0, 0, count)),
            _ => ("number of rows inserted", new DmlStats(count, 0, 0)),
        };
        return new([new ResultColumn(column, "fixed", 38, 0)], [new string?[] { count.ToString(CultureInfo.InvariantCulture) }], stats);
    }
}
