using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BackfillStudio.Engine.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class JobVerification : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "verification",
                table: "queue_backfill_data",
                type: "jsonb",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "verify_after_load",
                table: "queue_backfill_data",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "none");

            migrationBuilder.AddColumn<int>(
                name: "verify_attempts",
                table: "queue_backfill_data",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "verify_cancel_requested_at",
                table: "queue_backfill_data",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "verify_heartbeat_at",
                table: "queue_backfill_data",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "verify_owner",
                table: "queue_backfill_data",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "verify_repair",
                table: "queue_backfill_data",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "verify_status",
                table: "queue_backfill_data",
                type: "character varying(20)",
                maxLength: 20,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_queue_backfill_data_verify_status_id",
                table: "queue_backfill_data",
                columns: new[] { "verify_status", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_queue_backfill_data_verify_status_id",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "verification",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "verify_after_load",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "verify_attempts",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "verify_cancel_requested_at",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "verify_heartbeat_at",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "verify_owner",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "verify_repair",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "verify_status",
                table: "queue_backfill_data");
        }
    }
}
