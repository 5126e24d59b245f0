"""The scheduler pass: stale cleanup, then at most one due tier queued per service.

Queued backups are rows in progress with no worker yet; whoever claims one runs it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from dflow_tui.core.enums import BackupStatus, Trigger
from dflow_tui.core.errors import DflowError
from dflow_tui.core.policy import tier_to_queue
from dflow_tui.core.tiers import parse_tier
from dflow_tui.jobs.claim import acquire_scheduler, release_scheduler
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.enqueue import record_backup
from dflow_tui.jobs.schedule_outcome import record_schedule_outcome
from dflow_tui.jobs.stale import Cleaned, cleanup_stale
from dflow_tui.store.tables import Backup, ScheduleTier, Service

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
    if not await acquire_scheduler(ctx, LOCK_TTL):
        return PassReport(ran=False)
    try:
        report = PassReport(cleaned=await cleanup_stale(ctx))
        for service_id, tiers in (await _schedules(ctx)).items():
            await _consider(ctx, service_id, tiers, report)
        return report
    finally:
        await release_scheduler(ctx)


async def _schedules(ctx: JobContext) -> dict[int, list[str]]:
    async with ctx.db.session() as session:
        rows = (await session.exec(select(ScheduleTier))).all()
    schedules: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        schedules[row.service_id].append(row.tier)
    return schedules


async def last_successes(session, service_id: int) -> dict[str, datetime]:
    """When each tier of the service last succeeded (kept backups only): what makes a tier due."""
    return dict(
        (
            await session.exec(
                select(Backup.schedule_tier, func.max(Backup.created_at))
                .where(
                    Backup.service_id == service_id,
                    Backup.trigger == Trigger.SCHEDULED,
                    Backup.status == BackupStatus.SUCCESS,
                    col(Backup.deleted_at).is_(None),
                )
                .group_by(Backup.schedule_tier)
            )
        ).all()
    )


async def _consider(ctx: JobContext, service_id: int, tiers: list[str], report: PassReport) -> None:
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        service = await session.get(Service, service_id)
        running = (
            await session.exec(
                select(Backup.id).where(
                    Backup.service_id == service_id,
                    Backup.status == BackupStatus.IN_PROGRESS,
                )
            )
        ).first()
        last_success = await last_successes(session, service_id)
    if running is not None or (service.retry_after is not None and service.retry_after > now):
        return
    tier = tier_to_queue(tiers, {parse_tier(t): when for t, when in last_success.items() if t}, now)
    if tier is None:
        return
    try:
        backup = await record_backup(
            ctx,
            service_id,
            trigger=Trigger.SCHEDULED,
            tier=tier.value,
            actor=SCHEDULER_ACTOR,
            claimed=False,
        )
    except DflowError as error:  # no server, legacy project, unverified provider…
        report.refused[service_id] = str(error)
        await record_schedule_outcome(ctx, service_id, str(error))
        log.warning("scheduled %s backup of service %s refused: %s", tier.value, service.name, error)
        return
    report.queued.append(backup)
    log.info("queued %s backup %s of service %s", tier.value, backup.id, service.name)
