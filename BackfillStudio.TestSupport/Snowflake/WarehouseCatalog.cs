namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>The databases, schemas and warehouses that exist; names compare case-insensitively, as unquoted Snowflake names do.</summary>
internal sealed class WarehouseCatalog
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, HashSet<string>> _schemasByDatabase = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _warehouses = new(StringComparer.OrdinalIgnoreCase);

    public void Add(string database, string schema, string warehouse)
    {
        lock (_gate)
        {
            if (!_schemasByDatabase.TryGetValue(database, out var schemas))
            {
                schemas = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                _schemasByDatabase[database] = schemas;
            }
            schemas.Add(schema);
            _warehouses.Add(warehouse);
        }
    }

    /// <summary>Checks a request's context and returns the schema, spelled as registered, that its statements run in.</summary>
    public string Resolve(string? database, string? schema, string? warehouse)
    {
        lock (_gate)
        {
            if (string.IsNullOrEmpty(database))
                throw SnowflakeApiException.Sql("090105", "22000",
                    "Cannot perform this statement. This session does not have a current database. Call 'USE DATABASE', or use a qualified name.");
            if (!_schemasByDatabase.TryGetValue(database, out var schemas))
                throw SnowflakeApiException.Sql("002003", "02000", $"Database '{database}' does not exist or not authorized.");
            if (string.IsNullOrEmpty(schema))
                throw SnowflakeApiException.Sql("090106", "22000",
                    "Cannot perform this statement. This session does not have a current schema. Call 'USE SCHEMA', or use a qualified name.");
            if (!schemas.TryGetValue(schema, out var registeredSchema))
                throw SnowflakeApiException.Sql("002003", "02000", $"Schema '{database}.{schema}' does not exist or not authorized.");
            if (string.IsNullOrEmpty(warehouse) || !_warehouses.Contains(warehouse))
                throw SnowflakeApiException.Sql("000606", "57P03",
                    "No active warehouse selected in the current session.  Select an active warehouse with the 'use warehouse' command.");
            return registeredSchema;
        }
    }
}
