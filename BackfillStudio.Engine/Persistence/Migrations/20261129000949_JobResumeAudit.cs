using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BackfillStudio.Engine.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class JobResumeAudit : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "resumed_at",
                table: "queue_backfill_data",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "resumed_by",
                table: "queue_backfill_data",
                type: "character varying(256)",
                maxLength: 256,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "resumed_at",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "resumed_by",
                table: "queue_backfill_data");
        }
    }
}
