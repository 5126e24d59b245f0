"""Stale job cleanup: a job whose worker died is marked failed, and what it left is removed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select

from dflow_tui.core.enums import (
    ACTIVE_OPERATION_STATUSES,
    BackupStatus,
    OperationKind,
    OperationStatus,
    Trigger,
)
from dflow_tui.core.policy import stale_reason
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.recovery import (
    finish_interrupted_delete,
    remove_restore_temp,
    remove_unfinished_backup,
)
from dflow_tui.jobs.schedule_outcome import record_schedule_outcome
from dflow_tui.store.tables import Backup, Operation

log = logging.getLogger("dflow_tui.stale")


@dataclass(frozen=True)
class Cleaned:
    kind: str  # "backup" or the operation kind
    id: int
    reason: str


def stale_reason_of(ctx: JobContext, row) -> str | None:
    """Why this unfinished backup or operation is considered dead, now; None while alive."""
    return stale_reason(
        now=ctx.clock.now(),
        created_at=row.created_at,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        worker_id=row.worker_id,
        heartbeat_timeout=ctx.settings.heartbeat_timeout,
        max_runtime=ctx.settings.max_job_runtime,
    )


async def cleanup_stale(ctx: JobContext) -> list[Cleaned]:
    cleaned: list[Cleaned] = []
    async with ctx.db.session() as session:
        backups = (await session.exec(select(Backup).where(Backup.status == BackupStatus.IN_PROGRESS))).all()
        operations = (
            await session.exec(select(Operation).where(col(Operation.status).in_(ACTIVE_OPERATION_STATUSES)))
        ).all()
    for backup in backups:
        reason = stale_reason_of(ctx, backup)
        if reason and await _mark_failed(ctx, Backup, backup, BackupStatus.FAILED, reason):
            cleaned.append(Cleaned("backup", backup.id, reason))
            if backup.trigger == Trigger.SCHEDULED:
                await record_schedule_outcome(ctx, backup.service_id, reason)
            if backup.worker_id is not None:
                await remove_unfinished_backup(ctx, backup)
    for operation in operations:
        reason = stale_reason_of(ctx, operation)
        if reason and await _mark_failed(ctx, Operation, operation, OperationStatus.FAILED, reason):
            cleaned.append(Cleaned(operation.kind, operation.id, reason))
            if operation.kind == OperationKind.RESTORE:
                await remove_restore_temp(ctx, operation.backup_id)
            else:
                async with ctx.db.session() as session:
                    target = await session.get(Backup, operation.backup_id)
                if target.deleted_at is None:
                    await finish_interrupted_delete(ctx, target)
    for item in cleaned:
        log.warning("%s %s marked failed: %s", item.kind, item.id, item.reason)
    return cleaned


async def _mark_failed(ctx: JobContext, model, row, status: str, reason: str) -> bool:
    """Only if nobody finished or refreshed it meanwhile (same heartbeat as we read)."""
    async with ctx.db.session() as session:
        result = await session.exec(
            update(model)
            .where(
                model.id == row.id,
                model.status == row.status,
                (model.heartbeat_at == row.heartbeat_at)
                if row.heartbeat_at is not None
                else col(model.heartbeat_at).is_(None),
            )
            .values(status=status, error=reason, finished_at=ctx.clock.now())
        )
        await session.commit()
        return result.rowcount == 1
