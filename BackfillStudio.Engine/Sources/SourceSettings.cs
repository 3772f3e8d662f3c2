using Npgsql;

namespace BackfillStudio.Engine.Sources;

/// <summary>Decrypted connection settings of a PostgreSQL source, and how fast jobs may read it; lives only in memory.</summary>
/// <param name="MaxRowsPerSecond">The rows/s ceiling of each job reading this source (a job's own may be lower); null for none.</param>
public sealed record SourceSettings(string Host, int Port, string Database, string Username, string? Password, string SslMode,
    int? MaxRowsPerSecond = null)
{
    public static readonly string[] SslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

    /// <summary>
    /// How long one wait for the server may last (a query's first row, each read after it, a COPY's completion) before
    /// the session counts as stalled and the command fails; 0, no limit, except for a job's batches, which use
    /// <c>Backfill:StallTimeoutSeconds</c>.
    /// </summary>
    public int CommandTimeoutSeconds { get; init; }

    /// <summary>The session's <c>statement_timeout</c>, enforced by the source server itself; 0, none.</summary>
    public int StatementTimeoutSeconds { get; init; }

    /// <summary>
    /// The settings PostgreSQL's text of values depends on, pinned on every session that reads or writes values (or their
    /// canonical text) as text: a database or role may set others. <c>DateStyle = 'SQL, DMY'</c> writes 2024-01-02 as
    /// 02/01/2024, which a target set to MDY reads as February 1st; <c>extra_float_digits = 0</c> rounds floats to 15
    /// digits; <c>array_nulls = off</c> reads an array's NULL element as the text 'NULL'; <c>quote_all_identifiers = on</c>
    /// makes the catalog name money <c>"money"</c>, which would then travel as its locale's text. Types without a binary
    /// form the engine uses (arrays of dates, ranges, composite types, ...) travel as text. The time zone is the connection's (UTC).
    /// </summary>
    private const string TextSettings = "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'; " +
                                        "SET array_nulls = on; SET quote_all_identifiers = off";

    /// <summary>
    /// A role that a row-level security policy filters sees part of a table, in every query and <c>COPY</c>, with no
    /// error: a job would copy that part, count the same part when it verifies, and say COMPLETED. With
    /// <c>row_security = off</c> (as <c>pg_dump</c> runs) such a query fails instead, and a job checks first, see
    /// <see cref="Postgres.PostgresSource.WholeTableAsync"/>.
    /// </summary>
    private const string RowSecuritySetting = "SET row_security = off";

    /// <summary>Opens a session with <see cref="TextSettings"/> and <see cref="RowSecuritySetting"/>.</summary>
    public async Task<NpgsqlConnection> OpenAsync(string applicationName, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(ConnectionString(applicationName));
        try
        {
            await connection.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand($"{TextSettings}; {RowSecuritySetting}", connection);
            await cmd.ExecuteNonQueryAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public string ConnectionString(string applicationName) => new NpgsqlConnectionStringBuilder
    {
        Host = Host,
        Port = Port,
        Database = Database,
        Username = Username,
        Password = Password,
        SslMode = Enum.Parse<SslMode>(SslMode.Replace("-", ""), ignoreCase: true),
        ApplicationName = applicationName,
        Timeout = 15,
        CommandTimeout = CommandTimeoutSeconds,
        // A peer that vanished without closing the connection is noticed by the kernel, not only by the timeout.
        TcpKeepAlive = true,
        TcpKeepAliveTime = 30,
        TcpKeepAliveInterval = 10,
        // Filter values without a zone and timestamptz rendered as text mean UTC, whatever the server's default.
        Timezone = "UTC",
        // Keyset pages are prepared once per job and executed many times.
        MaxAutoPrepare = 16,
        // A batch is megabytes of COPY data: 8 KiB buffers (the default) cost a socket call and a thread-pool hop each.
        ReadBufferSize = 64 * 1024,
        WriteBufferSize = 64 * 1024,
        Options = StatementTimeoutSeconds > 0 ? $"-c statement_timeout={StatementTimeoutSeconds}s" : null,
    }.ConnectionString;
}
