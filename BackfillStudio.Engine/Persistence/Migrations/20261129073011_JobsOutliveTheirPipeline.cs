using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BackfillStudio.Engine.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class JobsOutliveTheirPipeline : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "fk_queue_backfill_data_pipelines_pipeline_id",
                table: "queue_backfill_data");

            migrationBuilder.DropForeignKey(
                name: "fk_queue_backfill_data_sources_source_id",
                table: "queue_backfill_data");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddForeignKey(
                name: "fk_queue_backfill_data_pipelines_pipeline_id",
                table: "queue_backfill_data",
                column: "pipeline_id",
                principalTable: "pipelines",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);

            migrationBuilder.AddForeignKey(
                name: "fk_queue_backfill_data_sources_source_id",
                table: "queue_backfill_data",
                column: "source_id",
                principalTable: "sources",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);
        }
    }
}
