using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BackfillStudio.Engine.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class SourceGovernor : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "max_rows_per_second",
                table: "sources",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "max_rows_per_second",
                table: "queue_backfill_data",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "throttled",
                table: "queue_backfill_data",
                type: "character varying(500)",
                maxLength: 500,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "max_rows_per_second",
                table: "sources");

            migrationBuilder.DropColumn(
                name: "max_rows_per_second",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "throttled",
                table: "queue_backfill_data");
        }
    }
}
