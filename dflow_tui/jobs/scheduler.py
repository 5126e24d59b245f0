"""The scheduler pass: stale cleanup, then at most one due tier queued per service.

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

from dflow_tui.core.enums import AuditResult, Trigger
from dflow_tui.core.errors import DflowError
from dflow_tui.core.policy import due_cutoffs, rarest
from dflow_tui.core.tiers import Tier
from dflow_tui.jobs import audit
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.enqueue import record_backup
from dflow_tui.jobs.settle import record_schedule_outcome
from dflow_tui.jobs.stale import Cleaned, cleanup_stale
from dflow_tui.store.queries import claims, inventory, schedules
from dflow_tui.store.tables import Backup

log = logging.getLogger("dflow_tui.scheduler")
SCHEDULER_ACTOR = "scheduler"
LOCK_TTL = timedelta(minutes=5)
LOCK_RENEWAL = timedelta(minutes=1)  # how often a running pass extends its lock


@dataclass
class PassReport:
    ran: bool = True
    queued: list[Backup] = field(default_factory=list)
    cleaned: list[Cleaned] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


async def run_pass(ctx: JobContext) -> PassReport:
    if not await claims.acquire_scheduler_lock(ctx.db, ctx.worker_id, ctx.clock.now(), LOCK_TTL):
        return PassReport(ran=False)
    try:
        report = PassReport(cleaned=await cleanup_stale(ctx))
        now = ctx.clock.now()
        renewed = now
        for service_id, tiers in (await schedules.due_by_service(ctx.db, now, due_cutoffs(now))).items():
            if ctx.clock.now() - renewed >= LOCK_RENEWAL:
                renewed = ctx.clock.now()
                if not await claims.acquire_scheduler_lock(ctx.db, ctx.worker_id, renewed, LOCK_TTL):
                    log.warning("the scheduler lock was taken over: this pass stops here")
                    break
            tier = rarest(tiers)
            if tier is not None:
                await _queue(ctx, service_id, tier, report)
        return report
    finally:
        await claims.release_scheduler_lock(ctx.db, ctx.worker_id)


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
    except DflowError as error:  # no server, legacy project, unverified provider…
        report.refused[service_id] = str(error)
        await record_schedule_outcome(ctx, service_id, str(error))
        path = await inventory.service_path(ctx.db, service_id)
        await audit.record(
            ctx, SCHEDULER_ACTOR, "backup.queue", AuditResult.REFUSED, service_path=path, detail=str(error)
        )
        log.warning("scheduled %s backup of %s refused: %s", tier.value, path, error)
        return
    report.queued.append(backup)
    path = await inventory.service_path(ctx.db, service_id)
    await audit.record(
        ctx,
        SCHEDULER_ACTOR,
        "backup.queue",
        AuditResult.SUCCEEDED,
        service_path=path,
        target=f"backup {backup.id}",
        detail=f"{tier.value} backup queued for a worker",
    )
    log.info("queued %s backup %s of %s", tier.value, backup.id, path)
