using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace BackfillStudio.Engine.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Notifications : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "notification_channels",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.SerialColumn),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    type = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    url = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true),
                    recipients = table.Column<string[]>(type: "text[]", nullable: true),
                    secret_protected = table.Column<string>(type: "text", nullable: true),
                    pipeline_ids = table.Column<int[]>(type: "integer[]", nullable: true),
                    events = table.Column<string[]>(type: "text[]", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_notification_channels", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "notification_deliveries",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.SerialColumn),
                    channel_id = table.Column<int>(type: "integer", nullable: false),
                    delivery_id = table.Column<Guid>(type: "uuid", nullable: false),
                    @event = table.Column<string>(name: "event", type: "character varying(20)", maxLength: 20, nullable: false),
                    job_id = table.Column<int>(type: "integer", nullable: true),
                    payload = table.Column<string>(type: "jsonb", nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    attempts = table.Column<int>(type: "integer", nullable: false),
                    next_attempt_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    last_error = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    delivered_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    claimed_by = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    claimed_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_notification_deliveries", x => x.id);
                    table.ForeignKey(
                        name: "fk_notification_deliveries_notification_channels_channel_id",
                        column: x => x.channel_id,
                        principalTable: "notification_channels",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_notification_channels_name",
                table: "notification_channels",
                column: "name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_notification_deliveries_channel_id_id",
                table: "notification_deliveries",
                columns: new[] { "channel_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_notification_deliveries_status_next_attempt_at",
                table: "notification_deliveries",
                columns: new[] { "status", "next_attempt_at" });

            // The outbox row is written by the status change's own transaction, whichever statement (engine, API, lease
            // takeover, a split job's settling) makes it: an event is never lost between a commit and its delivery.
            migrationBuilder.Sql("""
                CREATE FUNCTION backfill_queue_notifications() RETURNS trigger LANGUAGE plpgsql AS $fn$
                DECLARE
                    happened text;
                BEGIN
                    -- A chunk's events are its job's: only jobs (parent_id IS NULL) notify.
                    IF NEW.parent_id IS NOT NULL THEN
                        RETURN NEW;
                    ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN
                        happened := NEW.status;
                    ELSIF NEW.verify_status IS DISTINCT FROM OLD.verify_status AND NEW.verify_status = 'MISMATCH' THEN
                        happened := 'MISMATCH';
                    ELSE
                        RETURN NEW;
                    END IF;
                    INSERT INTO notification_deliveries (channel_id, delivery_id, event, job_id, payload, status, attempts, next_attempt_at, created_at)
                    SELECT c.id, gen_random_uuid(), happened, NEW.id, jsonb_build_object(
                               'id', NEW.id, 'pipeline_id', NEW.pipeline_id, 'pipeline_name', (SELECT p.name FROM pipelines p WHERE p.id = NEW.pipeline_id),
                               'table_name', NEW.table_name, 'filter_sql', NEW.filter_sql, 'status', NEW.status,
                               'count_record', NEW.count_record, 'total_record', NEW.total_record,
                               'started_at', NEW.started_at, 'finished_at', NEW.finished_at,
                               'duration_seconds', extract(epoch FROM NEW.finished_at - NEW.started_at),
                               'error_message', NEW.error_message, 'verification', NEW.verification),
                           'PENDING', 0, now(), now()
                    FROM notification_channels c
                    WHERE happened = ANY(c.events) AND (c.pipeline_ids IS NULL OR NEW.pipeline_id = ANY(c.pipeline_ids));
                    RETURN NEW;
                END
                $fn$;
                CREATE TRIGGER backfill_queue_notifications AFTER UPDATE ON queue_backfill_data
                    FOR EACH ROW EXECUTE FUNCTION backfill_queue_notifications();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER backfill_queue_notifications ON queue_backfill_data; DROP FUNCTION backfill_queue_notifications();");
            migrationBuilder.DropTable(
                name: "notification_deliveries");

            migrationBuilder.DropTable(
                name: "notification_channels");
        }
    }
}
