using BackfillStudio.Engine.Common;
using Npgsql;

namespace BackfillStudio.Engine.Catalog;

/// <summary>Reads tables, keys and column types from a PostgreSQL source's system catalog.</summary>
public static class PostgresCatalog
{
    private const string TablesSql = """
        SELECT n.nspname, c.relname,
               -- A partitioned parent has no rows of its own: its estimate is its leaf partitions'.
               CASE WHEN c.relkind = 'p'
                    THEN (SELECT COALESCE(sum(GREATEST(l.reltuples, 0)), 0) FROM pg_partition_tree(c.oid) pt JOIN pg_class l ON l.oid = pt.relid WHERE pt.isleaf)
                    ELSE GREATEST(c.reltuples, 0) END::bigint,
               COALESCE((SELECT array_agg(a.attname::text ORDER BY k.ord)
                         FROM pg_index i
                         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                         WHERE i.indrelid = c.oid AND i.indisprimary AND k.ord <= i.indnkeyatts), '{}')
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND (@partitions OR NOT c.relispartition)
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
          AND has_table_privilege(c.oid, 'SELECT')
        ORDER BY 1, 2
        """;

    private static readonly string ColumnsSql = $"""
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
               COALESCE(bt.typname, t.typname), COALESCE(bt.typcategory, t.typcategory)::text,
               et.typname, a.atttypmod,
               COALESCE(bt.typnamespace, t.typnamespace) = 'pg_catalog'::regnamespace
                 AND (et.oid IS NULL OR et.typnamespace = 'pg_catalog'::regnamespace),
               -- The key's own columns, not those of its INCLUDE (...), which come after them in indkey.
               COALESCE((SELECT k.ord FROM unnest(pk.indkey) WITH ORDINALITY AS k(attnum, ord)
                         WHERE k.attnum = a.attnum AND k.ord <= pk.indnkeyatts), 0)::int,
               format_type(COALESCE(bt.oid, a.atttypid), CASE WHEN bt.oid IS NULL THEN a.atttypmod ELSE t.typtypmod END),
               format_type(COALESCE(bt.oid, a.atttypid), -1),
               {CollationSql},
               {NondeterministicSql("a.attcollation")}
        FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
        LEFT JOIN pg_type et ON et.oid = COALESCE(bt.typelem, t.typelem) AND COALESCE(bt.typcategory, t.typcategory) = 'A'
        LEFT JOIN pg_index pk ON pk.indrelid = a.attrelid AND pk.indisprimary
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """;

    /// <param name="includePartitions">Also each partition; a partitioned table is otherwise listed once, as its parent.</param>
    public static async Task<IReadOnlyList<SourceTable>> ListTablesAsync(NpgsqlConnection connection, bool includePartitions, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(TablesSql, connection);
        cmd.Parameters.AddWithValue("partitions", includePartitions);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var tables = new List<SourceTable>();
        while (await reader.ReadAsync(ct))
        {
            var name = reader.GetString(1);
            tables.Add(new SourceTable($"{reader.GetString(0)}.{name}", name, reader.GetInt64(2), reader.GetFieldValue<string[]>(3)));
        }
        return tables;
    }

    /// <summary>
    /// SQL that is true when the collation of OID <paramref name="collation"/> is nondeterministic (it finds texts equal that
    /// differ), false for a deterministic one or none. Through jsonb: pg_collation has collisdeterministic from PostgreSQL 12 on.
    /// </summary>
    public static string NondeterministicSql(string collation) =>
        $"COALESCE((SELECT to_jsonb(o) ->> 'collisdeterministic' = 'false' FROM pg_collation o WHERE o.oid = {collation}), false)";

    /// <summary>
    /// The collation of the column <c>a</c> (a <c>pg_attribute</c> row) as SQL names it, schema-qualified outside
    /// pg_catalog; null for the database's default collation and for types without one.
    /// </summary>
    private const string CollationSql = """
        (SELECT CASE WHEN o.collnamespace = 'pg_catalog'::regnamespace THEN '' ELSE quote_ident(cn.nspname) || '.' END || quote_ident(o.collname)
         FROM pg_collation o JOIN pg_namespace cn ON cn.oid = o.collnamespace WHERE o.oid = a.attcollation AND a.attcollation <> 100)
        """;

    /// <summary>
    /// A statement answering, of the columns named in <c>$1</c> with the types (<c>format_type</c>) in <c>$2</c>, the first
    /// whose type in the relation <c>$3</c> (an OID or a name) is another, or that is gone, or, of the key columns named in
    /// <c>$4</c> with the collations in <c>$5</c> (<see cref="SourceColumn.Collation"/>), whose collation is another: its
    /// name, the type it had and its type now (null when gone), then the collation it had and has; no row while every
    /// column is as it was. Ask while holding a lock on the relation, which keeps the answer true until the transaction
    /// ends. Binary COPY data carries no types, so a column read or written as another type than it has would arrive
    /// wrong, not fail: an integer turned real as the float's bits. And a job walks the key in its collation's order: in
    /// another one, the rest of the walk (after the last key read) would skip the rows that sort before that key now.
    /// </summary>
    public const string FirstChangedColumnSql = $"""
        SELECT c.name, c.type, format_type(a.atttypid, a.atttypmod), k.coll, {CollationSql}
        FROM unnest(CAST($1 AS text[]), CAST($2 AS text[])) WITH ORDINALITY AS c(name, type, position)
        LEFT JOIN pg_attribute a ON a.attrelid = CAST($3 AS regclass) AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN unnest(CAST($4 AS text[]), CAST($5 AS text[])) AS k(name, coll) ON k.name = c.name
        WHERE a.attname IS NULL OR format_type(a.atttypid, a.atttypmod) <> c.type
           OR k.name IS NOT NULL AND {CollationSql} IS DISTINCT FROM k.coll
        ORDER BY c.position LIMIT 1
        """;

    /// <summary>
    /// Why <paramref name="table"/>'s rows can no longer be read as the columns the job read (<see cref="FirstChangedColumnSql"/>),
    /// or null when every column is as it was.
    /// </summary>
    public static async Task<string?> ColumnChangeAsync(NpgsqlConnection connection, TableSchema table, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(FirstChangedColumnSql, connection)
        {
            Parameters =
            {
                new() { Value = table.Columns.Select(c => c.Name).ToArray() },
                new() { Value = table.Columns.Select(c => c.DataType).ToArray() },
                new() { Value = table.Oid, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid },
                new() { Value = table.PrimaryKey.Select(c => c.Name).ToArray() },
                new() { Value = table.PrimaryKey.Select(c => c.Collation).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text },
            },
        };
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var (name, was) = (reader.GetString(0), reader.GetString(1));
        if (reader.IsDBNull(2))
            return $"The column {name} of {table.TableName} is gone (dropped or renamed, or the table replaced) since the job read the table's columns. " +
                   "Start a new backfill instead.";
        var now = reader.GetString(2);
        if (now != was)
            return $"The column {name} of {table.TableName} changed from {was} to {now} since the job read the table's columns; " +
                   $"its values would be read as {was}. Start a new backfill instead.";
        string Collation(int ordinal) => reader.IsDBNull(ordinal) ? "the database's default" : reader.GetString(ordinal);
        return $"The collation of the key column {name} of {table.TableName} changed from {Collation(3)} to {Collation(4)} since the job " +
               "began reading the table in key order; read on in the new order, it would skip the rows that now sort before the last " +
               "key it read. Start a new backfill instead.";
    }

    /// <summary>
    /// A boolean SQL expression, true while every column of <paramref name="table"/> has the type the job read. In a
    /// SELECT of the table it runs once, after the statement locked the table, so it holds for every row the statement
    /// returns; its parameters come from <see cref="AddColumnsUnchangedParameters"/>.
    /// </summary>
    public static string ColumnsUnchangedSql(TableSchema table) => $"""
        (SELECT count(*) = {table.Columns.Count} FROM pg_attribute a
         JOIN unnest(@backfill_columns, @backfill_types) AS c(name, type) ON a.attname = c.name AND format_type(a.atttypid, a.atttypmod) = c.type
         LEFT JOIN unnest(@backfill_keys, @backfill_collations) AS k(name, coll) ON k.name = c.name
         WHERE a.attrelid = @backfill_table AND a.attnum > 0 AND NOT a.attisdropped
           AND (k.name IS NULL OR {CollationSql} IS NOT DISTINCT FROM k.coll))
        """;

    /// <summary>The job's column names and types, its key's collations, and the table's OID, that <see cref="ColumnsUnchangedSql"/> compares.</summary>
    public static void AddColumnsUnchangedParameters(NpgsqlCommand cmd, TableSchema table)
    {
        cmd.Parameters.AddWithValue("backfill_columns", table.Columns.Select(c => c.Name).ToArray());
        cmd.Parameters.AddWithValue("backfill_types", table.Columns.Select(c => c.DataType).ToArray());
        cmd.Parameters.AddWithValue("backfill_keys", table.PrimaryKey.Select(c => c.Name).ToArray());
        cmd.Parameters.Add(new NpgsqlParameter("backfill_collations", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
            { Value = table.PrimaryKey.Select(c => c.Collation).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter("backfill_table", NpgsqlTypes.NpgsqlDbType.Oid) { Value = table.Oid });
    }

    /// <summary>
    /// Why <paramref name="tableName"/> names no one table: with dots in names, "a.b".c and a."b.c" are both a.b.c, and
    /// which one a query finds first may change from one run to the next.
    /// </summary>
    public static string TwoTablesNamed(string tableName) =>
        $"'{Messages.Shorten(tableName)}' names two tables (a dot is in a schema's or table's name). Rename one of them to backfill it.";

    /// <summary>Resolves <c>schema.table</c> as the catalog lists it, or returns null when there is no such table.</summary>
    public static async Task<TableSchema?> FindTableAsync(NpgsqlConnection connection, string tableName, CancellationToken ct)
    {
        uint oid;
        string schema, name;
        bool hasInheritanceChildren;
        await using (var cmd = new NpgsqlCommand("""
            SELECT c.oid, n.nspname, c.relname, c.relkind = 'r' AND c.relhassubclass
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname || '.' || c.relname = $1
            """, connection))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = tableName });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct)) return null;
            oid = reader.GetFieldValue<uint>(0);
            schema = reader.GetString(1);
            name = reader.GetString(2);
            hasInheritanceChildren = reader.GetBoolean(3);
            if (await reader.ReadAsync(ct)) throw ValidationFailedException.For("table_name", TwoTablesNamed(tableName));
        }

        var columns = new List<(SourceColumn Column, int PkPosition)>();
        await using (var cmd = new NpgsqlCommand(ColumnsSql, connection))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = oid, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var typmod = reader.GetInt32(6);
                // A domain's own typmod is on the base type (pg_type.typtypmod), not on the column.
                var typeName = reader.GetString(3);
                var category = reader.GetString(4);
                var elementType = reader.IsDBNull(5) ? null : reader.GetString(5);
                var builtin = reader.GetBoolean(7);
                var pkPosition = reader.GetInt32(8);
                int? precision = null, scale = null;
                if (typeName == "numeric" && typmod >= 4)
                {
                    precision = ((typmod - 4) >> 16) & 0xffff;
                    // The scale is an 11-bit signed number: numeric(3,-2) rounds to hundreds.
                    scale = ((typmod - 4) & 0x7ff) is var s && s > 1023 ? s - 2048 : s;
                }
                var kind = KindOf(typeName, category, builtin);
                ValueKind? elementKind = null;
                if (category == "A")
                {
                    var element = elementType is null ? ValueKind.OtherText : KindOf(elementType, "", builtin);
                    if (builtin && IsSimpleArrayElement(element)) elementKind = element;
                    else kind = ValueKind.OtherText;
                }
                var column = new SourceColumn(reader.GetString(0), reader.GetString(1), reader.GetString(9), reader.GetBoolean(2), pkPosition > 0,
                    kind, elementKind, precision, scale, builtin, elementKind is null ? null : elementType, reader.GetString(10),
                    pkPosition > 0 && !reader.IsDBNull(11) ? reader.GetString(11) : null, reader.GetBoolean(12), category == "C");
                columns.Add((column, pkPosition));
            }
        }

        // An inheritance parent's key is not unique across its children (PostgreSQL does not enforce it), so keyset
        // reading would skip rows sharing a key and an upsert would merge them: it is copied like a table without one.
        if (hasInheritanceChildren)
            return new TableSchema(tableName, schema, name, oid, columns.Select(c => c.Column with { IsPrimaryKey = false, Collation = null }).ToList(), []);
        var primaryKey = columns.Where(c => c.PkPosition > 0).OrderBy(c => c.PkPosition).Select(c => c.Column).ToList();
        return new TableSchema(tableName, schema, name, oid, columns.Select(c => c.Column).ToList(), primaryKey);
    }

    private static ValueKind KindOf(string typeName, string category, bool builtin)
    {
        if (category == "A") return ValueKind.Array;
        if (category == "E") return ValueKind.Enum;
        if (!builtin) return ValueKind.OtherText;
        return typeName switch
        {
            "int2" => ValueKind.Int16,
            "int4" => ValueKind.Int32,
            "int8" => ValueKind.Int64,
            "float4" => ValueKind.Float32,
            "float8" => ValueKind.Float64,
            "numeric" => ValueKind.NumericText,
            "text" or "varchar" or "bpchar" or "name" => ValueKind.Text,
            "bool" => ValueKind.Bool,
            "date" => ValueKind.Date,
            "time" => ValueKind.Time,
            "timestamp" => ValueKind.Timestamp,
            "timestamptz" => ValueKind.TimestampTz,
            "uuid" => ValueKind.Uuid,
            "json" => ValueKind.Json,
            "jsonb" => ValueKind.Jsonb,
            "bytea" => ValueKind.Bytea,
            _ => ValueKind.OtherText,
        };
    }

    /// <summary>
    /// Element kinds carried as typed arrays. Arrays of dates and times travel as text, because .NET
    /// arrays of them cannot hold infinity; arrays of other types too (numeric, enums, ...).
    /// </summary>
    private static bool IsSimpleArrayElement(ValueKind kind) => kind is ValueKind.Int16 or ValueKind.Int32 or ValueKind.Int64
        or ValueKind.Float32 or ValueKind.Float64 or ValueKind.Text or ValueKind.Bool or ValueKind.Uuid;
}
