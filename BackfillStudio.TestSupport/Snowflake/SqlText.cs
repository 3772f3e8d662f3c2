using System.Text;

namespace BackfillStudio.TestSupport.Snowflake;

internal enum SqlSegmentKind
{
    Code,
    StringLiteral,
    QuotedIdentifier,
    Comment,
}

internal readonly record struct SqlSegment(SqlSegmentKind Kind, string Text);

/// <summary>
/// Lexical helpers over SQL text that only ever look at code: string literals ('it''s'), quoted identifiers
/// ("a;b") and comments are kept whole and left alone.
/// </summary>
internal static class SqlText
{
    public static IReadOnlyList<SqlSegment> Segments(string sql)
    {
        var segments = new List<SqlSegment>();
        var codeStart = 0;
        var i = 0;
        while (i < sql.Length)
        {
            if (OpeningAt(sql, i) is not { } kind)
            {
                i++;
                continue;
            }
            if (i > codeStart) segments.Add(new SqlSegment(SqlSegmentKind.Code, sql[codeStart..i]));
            var end = EndOf(sql, i, kind);
            segments.Add(new SqlSegment(kind, sql[i..end]));
            i = codeStart = end;
        }
        if (codeStart < sql.Length) segments.Add(new SqlSegment(SqlSegmentKind.Code, sql[codeStart..]));
        return segments;
    }

    /// <summary>Splits on semicolons in code; parts with nothing but whitespace and comments are dropped.</summary>
    public static IReadOnlyList<string> SplitStatements(string sql)
    {
        var statements = new List<string>();
        var current = new StringBuilder();
        var hasContent = false;
        foreach (var segment in Segments(sql))
        {
            if (segment.Kind != SqlSegmentKind.Code)
            {
                current.Append(segment.Text);
                hasContent |= segment.Kind != SqlSegmentKind.Comment;
                continue;
            }
            var pieces = segment.Text.Split(';');
            for (var p = 0; p < pieces.Length; p++)
            {
                if (p > 0) Flush();
                current.Append(pieces[p]);
                hasContent |= !string.IsNullOrWhiteSpace(pieces[p]);
            }
        }
        Flush();
        return statements;

        void Flush()
        {
            if (hasContent) statements.Add(current.ToString().Trim());
            current.Clear();
            hasContent = false;
        }
    }

    /// <summary>The number of <c>?</c> bind placeholders.</summary>
    public static int CountPlaceholders(string sql) =>
        Segments(sql).Where(s => s.Kind == SqlSegmentKind.Code).Sum(s => s.Text.Count(c => c == '?'));

    /// <summary>Rewrites the code between literals, quoted identifiers and comments.</summary>
    public static string MapCode(string sql, Func<string, string> rewrite) =>
        string.Concat(Segments(sql).Select(s => s.Kind == SqlSegmentKind.Code ? rewrite(s.Text) : s.Text));

    /// <summary>The text with each comment replaced by a space, so keyword checks see the first real word.</summary>
    public static string WithoutComments(string sql) =>
        string.Concat(Segments(sql).Select(s => s.Kind == SqlSegmentKind.Comment ? " " : s.Text));

    private static SqlSegmentKind? OpeningAt(string sql, int i) => sql[i] switch
    {
        '\'' => SqlSegmentKind.StringLiteral,
        '"' => SqlSegmentKind.QuotedIdentifier,
        '-' when CharAt(sql, i + 1) == '-' => SqlSegmentKind.Comment,
        '/' when CharAt(sql, i + 1) == '*' => SqlSegmentKind.Comment,
        _ => null,
    };

    private static int EndOf(string sql, int start, SqlSegmentKind kind)
    {
        switch (kind)
        {
            case SqlSegmentKind.StringLiteral:
                return ClosingQuoteEnd(sql, start, '\'');
            case SqlSegmentKind.QuotedIdentifier:
                return ClosingQuoteEnd(sql, start, '"');
            default:
                if (sql[start] == '-')
                {
                    var newline = sql.IndexOf('\n', start);
                    return newline < 0 ? sql.Length : newline;
                }
                var close = sql.IndexOf("*/", start + 2, StringComparison.Ordinal);
                return close < 0 ? sql.Length : close + 2;
        }
    }

    /// <summary>The index just past the closing quote; a doubled quote is an escaped one. Unterminated runs to the end.</summary>
    private static int ClosingQuoteEnd(string sql, int start, char quote)
    {
        var i = start + 1;
        while (i < sql.Length)
        {
            if (sql[i] != quote)
            {
                i++;
                continue;
            }
            if (CharAt(sql, i + 1) != quote) return i + 1;
            i += 2;
        }
        return sql.Length;
    }

    private static char CharAt(string sql, int i) => i < sql.Length ? sql[i] : '\0';
}
