using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BackfillStudio.Engine.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class JobChunks : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "chunk",
                table: "queue_backfill_data",
                type: "jsonb",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "parallel_chunks",
                table: "queue_backfill_data",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "parent_id",
                table: "queue_backfill_data",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_queue_backfill_data_parent_id",
                table: "queue_backfill_data",
                column: "parent_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_queue_backfill_data_parent_id",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "chunk",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "parallel_chunks",
                table: "queue_backfill_data");

            migrationBuilder.DropColumn(
                name: "parent_id",
                table: "queue_backfill_data");
        }
    }
}
