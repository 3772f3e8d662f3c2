using System.Text.Json.Nodes;
using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Pipelines;
using BackfillStudio.Engine.Sources;
using Npgsql;

namespace BackfillStudio.Web.Hosting;

/// <summary>
/// Fills the embedded default with a demo shop database (1,000,000 orders, a composite-key table and a
/// table without a primary key) and a pipeline to a DuckDB file, so a newcomer can backfill right away.
/// </summary>
public static class DemoSeeder
{
    public const string PipelineName = "demo-shop-to-duckdb";

    private const string Schema = """
        CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled');
        CREATE TABLE customers (
            id bigint PRIMARY KEY, email text NOT NULL, full_name text NOT NULL, country char(2),
            is_active boolean NOT NULL, tags text[], created_at timestamptz NOT NULL);
        INSERT INTO customers
        SELECT g, 'customer' || g || '@example.com', 'Customer ' || g, (ARRAY['US','DE','FR','GB','JP','BR'])[1 + g % 6],
               g % 7 <> 0, CASE WHEN g % 5 = 0 THEN ARRAY['vip'] WHEN g % 3 = 0 THEN ARRAY['newsletter','beta'] END,
               timestamptz '2022-01-01 00:00:00+00' + (g * interval '37 minutes')
        FROM generate_series(1, 20000) g;
        CREATE TABLE orders (
            id bigint PRIMARY KEY, customer_id bigint NOT NULL, status order_status NOT NULL,
            amount numeric(12,2) NOT NULL, currency char(3) NOT NULL, created_at timestamptz NOT NULL,
            shipped_on date, metadata jsonb, external_ref uuid NOT NULL);
        INSERT INTO orders
        SELECT g, 1 + g % 20000,
               (ARRAY['pending','paid','shipped','delivered','cancelled']::order_status[])[1 + g % 5],
               round((5 + (g * 7919 % 100000) / 100.0)::numeric, 2), 'USD',
               timestamptz '2023-01-01 00:00:00+00' + (g * interval '63 seconds'),
               CASE WHEN g % 5 IN (2, 3) THEN date '2023-01-02' + (g / 1400)::int END,
               jsonb_build_object('channel', (ARRAY['web','mobile','store'])[1 + g % 3], 'items', 1 + g % 4),
               gen_random_uuid()
        FROM generate_series(1::bigint, 1000000) g;
        CREATE TABLE order_items (
            order_id bigint NOT NULL, line_no int NOT NULL, sku text NOT NULL, quantity int NOT NULL,
            unit_price numeric(10,2) NOT NULL, PRIMARY KEY (order_id, line_no));
        INSERT INTO order_items
        SELECT o, l, 'SKU-' || lpad(((o * 31 + l) % 5000)::text, 5, '0'), 1 + (o + l) % 3, round((1 + (o * l) % 250)::numeric, 2)
        FROM generate_series(1::bigint, 100000) o, generate_series(1, 1 + (o % 3)::int) l;
        CREATE TABLE page_views (viewed_at timestamp NOT NULL, path text NOT NULL, user_agent text, duration_ms int);
        INSERT INTO page_views
        SELECT timestamp '2024-01-01' + g * interval '11 seconds', (ARRAY['/','/pricing','/docs','/blog','/signup'])[1 + g % 5],
               CASE WHEN g % 4 = 0 THEN NULL ELSE 'Mozilla/5.0 (demo ' || g % 9 || ')' END, g % 3000
        FROM generate_series(1, 50000) g;
        ANALYZE;
        """;

    public static async Task SeedAsync(IServiceProvider services, EmbeddedDefault embedded, ILogger logger, CancellationToken ct = default)
    {
        var cluster = embedded.Cluster!;
        var sources = services.GetRequiredService<SourceService>();
        if ((await sources.ListAsync(ct)).Count > 0) return;

        logger.LogInformation("Seeding the demo source database {Database} (1,000,000 orders; takes a few seconds)", EmbeddedDefault.DemoDatabase);
        await cluster.CreateDatabaseIfMissingAsync(EmbeddedDefault.DemoDatabase, ct);
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString(EmbeddedDefault.DemoDatabase)))
        {
            await connection.OpenAsync(ct);
            await using var exists = new NpgsqlCommand("SELECT to_regclass('public.orders') IS NOT NULL", connection);
            if (!(bool)(await exists.ExecuteScalarAsync(ct))!)
            {
                await using var cmd = new NpgsqlCommand(Schema, connection) { CommandTimeout = 600 };
                await cmd.ExecuteNonQueryAsync(ct);
            }
        }

        var source = await sources.CreateAsync(new SourceInput("demo-shop", "127.0.0.1", cluster.Port, EmbeddedDefault.DemoDatabase,
            LocalPostgresCluster.Superuser, cluster.Password, "disable"), ct);
        var destination = await services.GetRequiredService<DestinationService>().CreateAsync(new DestinationInput("demo-duckdb", "duckdb",
            new JsonObject { ["path"] = Path.Combine(embedded.DataDirectory, "demo.duckdb") }), ct);
        var pipeline = await services.GetRequiredService<PipelineService>().CreateAsync(new PipelineInput(PipelineName, source.Id, [destination.Id],
            [new("public.orders", null), new("public.customers", null), new("public.order_items", null), new("public.page_views", null)]), ct);
        logger.LogInformation("Demo ready: pipeline {PipelineId} copies demo-shop tables into {Path}", pipeline.Id, Path.Combine(embedded.DataDirectory, "demo.duckdb"));
    }
}
