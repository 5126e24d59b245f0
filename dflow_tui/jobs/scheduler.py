"""The scheduler pass: stale cleanup, then at most one due tier queued per service.

Queued backups are rows in progress with no worker yet; whoever claims one runs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from dflow_tui.core.enums import AuditResult, Trigger
from dflow_tui.core.errors import DflowError
from dflow_tui.core.policy import tier_to_queue
from dflow_tui.core.tiers import Tier
from dflow_tui.jobs import audit
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.enqueue import record_backup
from dflow_tui.jobs.settle import record_schedule_outcome
from dflow_tui.jobs.stale import Cleaned, cleanup_stale
from dflow_tui.store.queries import backups, claims, inventory, rows, schedules
from dflow_tui.store.tables import Backup, Service

log = logging.getLogger("dflow_tui.scheduler")
SCHEDULER_ACTOR = "scheduler"
LOCK_TTL = timedelta(minutes=5)


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
        for service_id, tiers in (await schedules.tiers_by_service(ctx.db)).items():
            await _consider(ctx, service_id, tiers, report)
        return report
    finally:
        await claims.release_scheduler_lock(ctx.db, ctx.worker_id)


async def _consider(ctx: JobContext, service_id: int, tiers: list[Tier], report: PassReport) -> None:
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        service = await rows.get(session, Service, service_id)
        running = await backups.running_backup(session, service_id)
        last_success = await backups.last_successes(session, service_id)
    if running is not None or (service.retry_after is not None and service.retry_after > now):
        return
    tier = tier_to_queue(tiers, last_success, now)
    if tier is None:
        return
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
        log.warning("scheduled %s backup of service %s refused: %s", tier.value, service.name, error)
        return
    report.queued.append(backup)
    await audit.record(
        ctx,
        SCHEDULER_ACTOR,
        "backup.queue",
        AuditResult.SUCCEEDED,
        service_path=await inventory.service_path(ctx.db, service_id),
        target=f"backup {backup.id}",
        detail=f"{tier.value} backup queued for a worker",
    )
    log.info("queued %s backup %s of service %s", tier.value, backup.id, service.name)
