using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace BackfillStudio.Engine.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Schedules : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "schedule_id",
                table: "queue_backfill_data",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "backfill_schedules",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.SerialColumn),
                    pipeline_id = table.Column<int>(type: "integer", nullable: false),
                    table_name = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    filters = table.Column<string>(type: "jsonb", nullable: false),
                    cron = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    time_zone = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    verify_after_load = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    max_rows_per_second = table.Column<int>(type: "integer", nullable: true),
                    parallel_chunks = table.Column<int>(type: "integer", nullable: true),
                    paused = table.Column<bool>(type: "boolean", nullable: false),
                    next_run_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    created_by = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_backfill_schedules", x => x.id);
                    table.ForeignKey(
                        name: "fk_backfill_schedules_pipelines_pipeline_id",
                        column: x => x.pipeline_id,
                        principalTable: "pipelines",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "schedule_runs",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.SerialColumn),
                    schedule_id = table.Column<int>(type: "integer", nullable: false),
                    occurrence_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    outcome = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    job_id = table.Column<int>(type: "integer", nullable: true),
                    message = table.Column<string>(type: "text", nullable: true),
                    engine = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_schedule_runs", x => x.id);
                    table.ForeignKey(
                        name: "fk_schedule_runs_backfill_schedules_schedule_id",
                        column: x => x.schedule_id,
                        principalTable: "backfill_schedules",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_queue_backfill_data_schedule_id_status",
                table: "queue_backfill_data",
                columns: new[] { "schedule_id", "status" });

            migrationBuilder.CreateIndex(
                name: "ix_backfill_schedules_next_run_at",
                table: "backfill_schedules",
                column: "next_run_at");

            migrationBuilder.CreateIndex(
                name: "ix_backfill_schedules_pipeline_id",
                table: "backfill_schedules",
                column: "pipeline_id");

            migrationBuilder.CreateIndex(
                name: "ix_schedule_runs_schedule_id_occurrence_at",
                table: "schedule_runs",
                columns: new[] { "schedule_id", "occurrence_at" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "schedule_runs");

            migrationBuilder.DropTable(
                name: "backfill_schedules");

            migrationBuilder.DropIndex(
                name: "ix_queue_backfill_data_schedule_id_status",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "schedule_id",
                table: "queue_backfill_data");
        }
    }
}
