using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Npgsql;

using BackfillStudio.Engine.Jobs;

namespace BackfillStudio.Engine.Persistence;

public sealed class ConfigDbContext(DbContextOptions<ConfigDbContext> options)
    : IdentityDbContext<AppUser>(options), IDataProtectionKeyContext
{
    public DbSet<SourceEntity> Sources => Set<SourceEntity>();
    public DbSet<DestinationEntity> Destinations => Set<DestinationEntity>();
    public DbSet<PipelineEntity> Pipelines => Set<PipelineEntity>();
    public DbSet<PipelineTableEntity> PipelineTables => Set<PipelineTableEntity>();
    public DbSet<PipelineDestinationEntity> PipelineDestinations => Set<PipelineDestinationEntity>();
    public DbSet<BackfillJobEntity> BackfillJobs => Set<BackfillJobEntity>();
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();
    public DbSet<ApiKeyEntity> ApiKeys => Set<ApiKeyEntity>();
    public DbSet<EngineEntity> Engines => Set<EngineEntity>();
    public DbSet<NotificationChannelEntity> NotificationChannels => Set<NotificationChannelEntity>();
    public DbSet<NotificationDeliveryEntity> NotificationDeliveries => Set<NotificationDeliveryEntity>();
    public DbSet<BackfillScheduleEntity> Schedules => Set<BackfillScheduleEntity>();
    public DbSet<ScheduleRunEntity> ScheduleRuns => Set<ScheduleRunEntity>();

    /// <summary>
    /// Deletes a pipeline or a source (<paramref name="owner"/>) in one transaction with the bookkeeping of its jobs. The
    /// jobs are locked first and counted: a claim in progress finishes first and is counted, later claims skip the locked
    /// jobs, so a deletion that finds none EXECUTING (else <see cref="Common.ConflictException"/> with
    /// <paramref name="executingMessage"/>) cannot remove a job an engine has just claimed. The jobs are not removed but
    /// marked deleted by <paramref name="actor"/> (those deleted before keep who and when), for the audit trail.
    /// </summary>
    public async Task DeleteKeepingJobsAsync(object owner, int? pipelineId, int? sourceId, string? actor, string executingMessage,
        CancellationToken ct)
    {
        await using var tx = await Database.BeginTransactionAsync(ct);
        // First the pipelines, then their schedules: a job being added to one of them (by a request holding the pipeline,
        // or an occurrence holding its schedule) commits first and is marked below, or finds the pipeline gone.
        await Database.SqlQuery<int>($"""
            SELECT count(*)::int AS "Value" FROM (SELECT 1 FROM pipelines WHERE id = {pipelineId} OR source_id = {sourceId} FOR UPDATE) p
            """).SingleAsync(ct);
        await Database.SqlQuery<int>($"""
            SELECT count(*)::int AS "Value" FROM (SELECT 1 FROM backfill_schedules WHERE pipeline_id IN
                (SELECT id FROM pipelines WHERE id = {pipelineId} OR source_id = {sourceId}) FOR UPDATE) s
            """).SingleAsync(ct);
        var executing = await Database.SqlQuery<int>($"""
            SELECT count(*) FILTER (WHERE status = {JobStatus.Executing.ToDb()})::int AS "Value"
            FROM (SELECT status FROM queue_backfill_data WHERE pipeline_id = {pipelineId} OR source_id = {sourceId} FOR UPDATE) jobs
            """).SingleAsync(ct);
        if (executing > 0) throw new Common.ConflictException(executingMessage);
        await Database.ExecuteSqlAsync($"""
            UPDATE queue_backfill_data SET deleted_at = now(), deleted_by = {actor}, updated_at = now()
            WHERE (pipeline_id = {pipelineId} OR source_id = {sourceId}) AND deleted_at IS NULL
            """, ct);
        Remove(owner);
        await SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Holds the pipeline, in the caller's transaction, while a job of it is added: a deletion of the pipeline (or its
    /// source) waits for that transaction, then marks the job deleted with the others; one that came first leaves no
    /// pipeline to hold (<see cref="Common.NotFoundException"/>), rather than a job of a deleted pipeline left to run.
    /// </summary>
    public async Task HoldPipelineAsync(int pipelineId, CancellationToken ct)
    {
        var found = await Database.SqlQuery<int>($"""
            SELECT count(*)::int AS "Value" FROM (SELECT 1 FROM pipelines WHERE id = {pipelineId} FOR SHARE) p
            """).SingleAsync(ct);
        if (found == 0) throw new Common.NotFoundException($"Pipeline {pipelineId} does not exist.");
    }

    /// <summary>
    /// What a user is told when another request's commit came between this one's checks and its own: it deleted or
    /// changed the row this one changes, or saved a name that must be unique, or deleted (or took into use) a row this one
    /// refers to. Null for other exceptions. The API answers these 409, the UI shows them, rather than a crash.
    /// </summary>
    public static string? ConcurrentChangeMessage(Exception e) => e switch
    {
        DbUpdateConcurrencyException => "Another request changed or deleted this meanwhile; reload and try again.",
        DbUpdateException { InnerException: PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } } =>
            "Another request saved the same thing meanwhile (a name that must be unique, say); reload and try again.",
        DbUpdateException { InnerException: PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation } } =>
            "Another request changed what this one refers to meanwhile (deleted it, or took it into use); reload and try again.",
        _ => null,
    };

    protected override void OnModelCreating(ModelBuilder b)
    {
        base.OnModelCreating(b);
        // Identity names its tables AspNet*; the config database is snake_case throughout.
        b.Entity<AppUser>().ToTable("users");
        b.Entity<IdentityRole>().ToTable("roles");
        b.Entity<IdentityUserRole<string>>().ToTable("user_roles");
        b.Entity<IdentityUserClaim<string>>().ToTable("user_claims");
        b.Entity<IdentityUserLogin<string>>().ToTable("user_logins");
        b.Entity<IdentityRoleClaim<string>>().ToTable("role_claims");
        b.Entity<IdentityUserToken<string>>().ToTable("user_tokens");
        // queue_backfill_data.id is SERIAL in the seed schema; the other tables follow it.
        b.UseSerialColumns();
        b.Entity<SourceEntity>(e =>
        {
            e.ToTable("sources");
            e.HasIndex(x => x.Name).IsUnique();
            e.Property(x => x.Name).HasMaxLength(200);
            e.Property(x => x.SslMode).HasMaxLength(20);
        });
        b.Entity<DestinationEntity>(e =>
        {
            e.ToTable("destinations");
            e.HasIndex(x => x.Name).IsUnique();
            e.Property(x => x.Name).HasMaxLength(200);
            e.Property(x => x.Type).HasMaxLength(20);
            e.Property(x => x.Config).HasColumnType("jsonb");
            e.Property(x => x.EngineName).HasMaxLength(200);
        });
        b.Entity<PipelineEntity>(e =>
        {
            e.ToTable("pipelines");
            e.HasIndex(x => x.Name).IsUnique();
            e.Property(x => x.Name).HasMaxLength(200);
            e.HasOne(x => x.Source).WithMany().HasForeignKey(x => x.SourceId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(x => x.Tables).WithOne().HasForeignKey(x => x.PipelineId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(x => x.Destinations).WithOne().HasForeignKey(x => x.PipelineId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<PipelineDestinationEntity>(e =>
        {
            e.ToTable("pipeline_destinations");
            e.HasKey(x => new { x.PipelineId, x.DestinationId });
            e.HasOne(x => x.Destination).WithMany().HasForeignKey(x => x.DestinationId).OnDelete(DeleteBehavior.Restrict);
        });
        b.Entity<PipelineTableEntity>(e =>
        {
            e.ToTable("pipeline_tables");
            e.HasIndex(x => new { x.PipelineId, x.TableName }).IsUnique();
            e.Property(x => x.TableName).HasMaxLength(255);
            e.Property(x => x.TargetTableName).HasMaxLength(255);
        });
        b.Entity<BackfillJobEntity>(e =>
        {
            e.ToTable("queue_backfill_data");
            // No foreign keys to pipelines and sources: a job outlives them, marked deleted, in the audit trail.
            e.HasIndex(x => x.SourceId);
            e.Property(x => x.TableName).HasMaxLength(255);
            e.Property(x => x.FilterSql).HasColumnType("text");
            e.Property(x => x.Status).HasMaxLength(20).HasConversion(v => v.ToDb(), v => JobStatusNames.Parse(v)).HasDefaultValue(JobStatus.Pending)
                .HasSentinel((JobStatus)(-1));
            e.Property(x => x.CountRecord).HasDefaultValue(0L);
            e.Property(x => x.Attempts).HasDefaultValue(0);
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
            e.Property(x => x.UpdatedAt).HasDefaultValueSql("now()");
            e.Property(x => x.Filters).HasColumnType("jsonb").HasDefaultValueSql("'[]'::jsonb");
            e.Property(x => x.ResumeCursor).HasColumnType("jsonb");
            e.Property(x => x.LeaseOwner).HasMaxLength(200);
            e.Property(x => x.CreatedBy).HasMaxLength(256);
            e.Property(x => x.CancelledBy).HasMaxLength(256);
            e.Property(x => x.ResumedBy).HasMaxLength(256);
            e.Property(x => x.DeletedBy).HasMaxLength(256);
            e.Property(x => x.VerifyAfterLoad).HasMaxLength(20).HasDefaultValue("none");
            e.Property(x => x.Throttled).HasMaxLength(500);
            e.Property(x => x.Verification).HasColumnType("jsonb");
            e.Property(x => x.VerifyStatus).HasMaxLength(20);
            e.Property(x => x.VerifyOwner).HasMaxLength(200);
            e.Property(x => x.VerifyAttempts).HasDefaultValue(0);
            e.HasIndex(x => new { x.VerifyStatus, x.Id });
            e.Property(x => x.Chunk).HasColumnType("jsonb");
            e.HasIndex(x => x.ParentId);
            // Chunks are parts of their parent job, never listed on their own.
            e.HasQueryFilter(x => x.DeletedAt == null && x.ParentId == null);
            e.HasIndex(x => new { x.Status, x.Id });
            e.HasIndex(x => new { x.PipelineId, x.Id });
            e.HasIndex(x => new { x.ScheduleId, x.Status });
        });
        b.Entity<BackfillScheduleEntity>(e =>
        {
            e.ToTable("backfill_schedules");
            e.HasOne<PipelineEntity>().WithMany().HasForeignKey(x => x.PipelineId).OnDelete(DeleteBehavior.Cascade);
            e.Property(x => x.TableName).HasMaxLength(255);
            e.Property(x => x.Filters).HasColumnType("jsonb");
            e.Property(x => x.Cron).HasMaxLength(200);
            e.Property(x => x.TimeZone).HasMaxLength(100);
            e.Property(x => x.VerifyAfterLoad).HasMaxLength(20);
            e.Property(x => x.CreatedBy).HasMaxLength(256);
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
            e.Property(x => x.UpdatedAt).HasDefaultValueSql("now()");
            e.HasIndex(x => x.NextRunAt);
        });
        b.Entity<ScheduleRunEntity>(e =>
        {
            e.ToTable("schedule_runs");
            e.HasOne<BackfillScheduleEntity>().WithMany().HasForeignKey(x => x.ScheduleId).OnDelete(DeleteBehavior.Cascade);
            // One outcome per occurrence, whichever engines race for it.
            e.HasIndex(x => new { x.ScheduleId, x.OccurrenceAt }).IsUnique();
            e.Property(x => x.Outcome).HasMaxLength(20);
            e.Property(x => x.Engine).HasMaxLength(200);
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
        });
        b.Entity<DataProtectionKey>().ToTable("data_protection_keys");
        b.Entity<NotificationChannelEntity>(e =>
        {
            e.ToTable("notification_channels");
            e.HasIndex(x => x.Name).IsUnique();
            e.Property(x => x.Name).HasMaxLength(200);
            e.Property(x => x.Type).HasMaxLength(20);
            e.Property(x => x.Url).HasMaxLength(2000);
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
        });
        b.Entity<NotificationDeliveryEntity>(e =>
        {
            e.ToTable("notification_deliveries");
            e.HasOne(x => x.Channel).WithMany().HasForeignKey(x => x.ChannelId).OnDelete(DeleteBehavior.Cascade);
            e.Property(x => x.Event).HasMaxLength(20);
            e.Property(x => x.Status).HasMaxLength(20);
            e.Property(x => x.Payload).HasColumnType("jsonb");
            e.Property(x => x.ClaimedBy).HasMaxLength(200);
            e.Property(x => x.CreatedAt).HasDefaultValueSql("now()");
            e.HasIndex(x => new { x.Status, x.NextAttemptAt });
            e.HasIndex(x => new { x.ChannelId, x.Id });
        });
        b.Entity<EngineEntity>(e =>
        {
            e.ToTable("engines");
            e.HasKey(x => x.Name);
            e.Property(x => x.Name).HasMaxLength(200);
        });
        b.Entity<ApiKeyEntity>(e =>
        {
            e.ToTable("api_keys");
            e.HasIndex(x => x.KeyHash).IsUnique();
            e.Property(x => x.Name).HasMaxLength(200);
            e.Property(x => x.KeyHash).HasMaxLength(64);
            e.Property(x => x.Prefix).HasMaxLength(16);
            e.Property(x => x.Role).HasMaxLength(20);
            e.Property(x => x.CreatedBy).HasMaxLength(256);
        });
    }
}
