"""Retention: after a scheduled backup succeeds, older successes of that tier only go,
through the normal delete flow, until the tier's count fits. Manual backups are never pruned."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from dflow_tui.core.enums import BackupStatus, OperationKind, OperationStatus, Trigger
from dflow_tui.core.policy import to_prune
from dflow_tui.core.tiers import parse_tier
from dflow_tui.jobs.context import JobContext, ProgressCallback
from dflow_tui.jobs.delete import run_delete
from dflow_tui.store.tables import Backup, Operation

log = logging.getLogger("dflow_tui.prune")
RETENTION_ACTOR = "retention"


async def prune_tier(
    ctx: JobContext, finished: Backup, on_progress: ProgressCallback | None = None
) -> list[Operation]:
    tier = parse_tier(finished.schedule_tier)
    async with ctx.db.session() as session:
        successes = (
            await session.exec(
                select(Backup)
                .where(
                    Backup.service_id == finished.service_id,
                    Backup.trigger == Trigger.SCHEDULED,
                    Backup.schedule_tier == tier.value,
                    Backup.status == BackupStatus.SUCCESS,
                    col(Backup.deleted_at).is_(None),
                )
                .order_by(col(Backup.created_at).desc(), col(Backup.id).desc())
            )
        ).all()
    results = []
    for old in to_prune(list(successes), tier):
        operation = await _queue_delete(ctx, old.id)
        if operation is None:
            log.info("backup %s is busy (restore or delete running); pruned on a later run", old.id)
            continue
        done = await run_delete(ctx, operation.id, on_progress)
        if done.status != OperationStatus.SUCCEEDED:
            log.warning("pruning backup %s failed: %s", old.id, done.error)
        results.append(done)
    return results


async def _queue_delete(ctx: JobContext, backup_id: int) -> Operation | None:
    async with ctx.db.session() as session:
        operation = Operation(
            backup_id=backup_id,
            kind=OperationKind.DELETE,
            status=OperationStatus.QUEUED,
            requested_by=RETENTION_ACTOR,
            worker_id=ctx.worker_id,
            created_at=ctx.clock.now(),
        )
        session.add(operation)
        try:
            await session.commit()
        except IntegrityError:
            return None
        await session.refresh(operation)
        return operation
