"""The scheduler pass: stale cleanup, then at most one due tier queued per service, then
the restore drills that are due (at most one per server).

Queued backups are rows in progress with no worker yet; whoever claims one runs it.
Which services are due is one query whatever their number (store.queries.schedules.
due_by_service): a pass over a fleet where nothing is due costs the same few queries
as over one service. The pass renews its lock while it queues, so a long one is never
taken over halfway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from dflow_tui.core.enums import AuditResult, OperationKind, OperationStatus, Trigger
from dflow_tui.core.errors import BackupInProgress, Conflict, DflowError
from dflow_tui.core.policy import drills_to_queue, due_cutoffs, rarest
from dflow_tui.core.tiers import Tier
from dflow_tui.jobs import audit
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.enqueue import record_backup, record_scheduled
from dflow_tui.jobs.settle import record_schedule_outcome
from dflow_tui.jobs.stale import Cleaned, cleanup_stale
from dflow_tui.store.queries import claims, drills, inventory, operations, schedules
from dflow_tui.store.queries.rows import chunks
from dflow_tui.store.tables import AuditEntry, Backup, Operation

log = logging.getLogger("dflow_tui.scheduler")
SCHEDULER_ACTOR = "scheduler"
LOCK_TTL = timedelta(minutes=5)
LOCK_RENEWAL = timedelta(minutes=1)  # how often a running pass extends its lock
BATCH = 500  # services queued per transaction


@dataclass
class PassReport:
    ran: bool = True
    queued: list[Backup] = field(default_factory=list)
    cleaned: list[Cleaned] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    drills: list[Operation] = field(default_factory=list)


async def run_pass(ctx: JobContext) -> PassReport:
    if not await claims.acquire_scheduler_lock(ctx.db, ctx.worker_id, ctx.clock.now(), LOCK_TTL):
        return PassReport(ran=False)
    try:
        report = PassReport(cleaned=await cleanup_stale(ctx))
        now = ctx.clock.now()
        due = await schedules.due_by_service(ctx.db, now, due_cutoffs(now))
        chosen = {
            service_id: tier for service_id, tiers in due.items() if (tier := rarest(tiers)) is not None
        }
        renewed = now
        for batch in chunks(list(chosen), BATCH):
            if ctx.clock.now() - renewed >= LOCK_RENEWAL:
                renewed = ctx.clock.now()
                if not await claims.acquire_scheduler_lock(ctx.db, ctx.worker_id, renewed, LOCK_TTL):
                    log.warning("the scheduler lock was taken over: this pass stops here")
                    break
            await _queue_batch(ctx, {service_id: chosen[service_id] for service_id in batch}, report)
        else:
            report.drills = await _queue_drills(ctx)
        return report
    finally:
        await claims.release_scheduler_lock(ctx.db, ctx.worker_id)


async def _queue_batch(ctx: JobContext, due: dict[int, Tier], report: PassReport) -> None:
    """Queues the batch in one transaction; one by one if a backup of one of them started
    meanwhile (that one is then skipped, as if it had been in progress at the start)."""
    queued = await record_scheduled(ctx, due, SCHEDULER_ACTOR)
    if queued is None:
        for service_id, tier in due.items():
            await _queue(ctx, service_id, tier, report)
        return
    for service_id, error in queued.refused.items():
        await _refused(ctx, service_id, due[service_id], error, report, queued.paths[service_id])
    report.queued.extend(queued.backups)
    await audit.record_many(
        ctx, [_queued_line(ctx, backup, queued.paths[backup.service_id]) for backup in queued.backups]
    )


async def _queue(ctx: JobContext, service_id: int, tier: Tier, report: PassReport) -> None:
    try:
        backup = await record_backup(
            ctx,
            service_id,
            trigger=Trigger.SCHEDULED,
            tier=tier,
            actor=SCHEDULER_ACTOR,
            claimed=False,
        )
    except BackupInProgress:
        return  # a backup of it started since the pass looked: it is not due any more
    except DflowError as error:  # no server, legacy project, unverified provider…
        await _refused(ctx, service_id, tier, str(error), report)
        return
    report.queued.append(backup)
    await audit.record_many(
        ctx, [_queued_line(ctx, backup, await inventory.service_path(ctx.db, service_id))]
    )


def _queued_line(ctx: JobContext, backup: Backup, path: str) -> AuditEntry:
    """The audit line (and the log line) of a backup the pass queued."""
    log.info("queued %s backup %s of %s", backup.schedule_tier, backup.id, path)
    return audit.entry(
        ctx,
        SCHEDULER_ACTOR,
        "backup.queue",
        AuditResult.SUCCEEDED,
        service_path=path,
        target=f"backup {backup.id}",
        detail=f"{backup.schedule_tier} backup queued for a worker",
    )


async def _queue_drills(ctx: JobContext) -> list[Operation]:
    """Queues the restore drills that are due, after the backups (a service with a backup
    queued or running waits for it), at most one per server at a time."""
    facts, drilling = await drills.scheduled_drill_facts(ctx.db)
    queued: list[Operation] = []
    for fact in drills_to_queue(facts, drilling, ctx.clock.now()):
        assert fact.backup_id is not None
        drill = Operation(
            backup_id=fact.backup_id,
            kind=OperationKind.DRILL,
            status=OperationStatus.QUEUED,
            requested_by=SCHEDULER_ACTOR,
            created_at=ctx.clock.now(),
        )
        try:
            async with ctx.db.session() as session:
                drill = await operations.insert_operation(session, drill)
        except Conflict:  # an operation on that backup began since the pass looked
            continue
        queued.append(drill)
        path = await inventory.service_path(ctx.db, fact.service_id)
        log.info("queued drill %s of backup %s of %s", drill.id, fact.backup_id, path)
        await audit.record(
            ctx,
            SCHEDULER_ACTOR,
            "drill.queue",
            AuditResult.SUCCEEDED,
            service_path=path,
            target=f"backup {fact.backup_id}",
            detail=f"{fact.every} drill queued for a worker",
        )
    return queued


async def _refused(
    ctx: JobContext, service_id: int, tier: Tier, error: str, report: PassReport, path: str | None = None
) -> None:
    report.refused[service_id] = error
    await record_schedule_outcome(ctx, service_id, error)
    path = path or await inventory.service_path(ctx.db, service_id)
    await audit.record(
        ctx, SCHEDULER_ACTOR, "backup.queue", AuditResult.REFUSED, service_path=path, detail=error
    )
    log.warning("scheduled %s backup of %s refused: %s", tier.value, path, error)
