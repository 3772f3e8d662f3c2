namespace BackfillStudio.Engine.Catalog;

/// <summary>A table as the catalog lists it: <see cref="TableName"/> is <c>schema.name</c>, <see cref="Name"/> the name alone.</summary>
public sealed record SourceTable(string TableName, string Name, long EstimatedRows, IReadOnlyList<string> PrimaryKey);

public sealed record SourceColumn(
    string Name,
    string DataType,
    string BaseDataType,
    bool Nullable,
    bool IsPrimaryKey,
    ValueKind Kind,
    ValueKind? ElementKind,
    int? Precision,
    int? Scale,
    bool IsBuiltinType)
{
    public bool IsTextLike => Kind is ValueKind.Text or ValueKind.Enum;
}

/// <summary>A table resolved against the live catalog; identifiers used in SQL come only from here.</summary>
public sealed record TableSchema(
    string TableName,
    string Schema,
    string Name,
    uint Oid,
    IReadOnlyList<SourceColumn> Columns,
    IReadOnlyList<SourceColumn> PrimaryKey)
{
    public string QualifiedSql => $"{Sql.Ident(Schema)}.{Sql.Ident(Name)}";

    public SourceColumn? FindColumn(string name) => Columns.FirstOrDefault(c => c.Name == name);
}
