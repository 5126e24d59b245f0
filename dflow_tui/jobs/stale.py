"""Stale job cleanup: a job whose worker died is marked failed, and what it left is removed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dflow_tui.core.enums import BackupStatus, OperationKind, OperationStatus, Trigger
from dflow_tui.core.policy import stale_reason
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.recovery import (
    finish_interrupted_delete,
    remove_restore_temp,
    remove_unfinished_backup,
)
from dflow_tui.jobs.settle import record_schedule_outcome
from dflow_tui.store.queries import backups, operations, rows
from dflow_tui.store.queries.rows import Job
from dflow_tui.store.tables import Backup, Operation

log = logging.getLogger("dflow_tui.stale")


@dataclass(frozen=True)
class Cleaned:
    kind: str  # "backup" or the operation kind
    id: int
    reason: str


def stale_reason_of(ctx: JobContext, row: Backup | Operation) -> str | None:
    """Why this unfinished backup or operation is considered dead, now; None while alive."""
    assert row.created_at is not None  # every job is recorded with its creation time
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
        running = await backups.in_progress(session)
        active = await operations.active_operations(session)
    for backup in running:
        reason = stale_reason_of(ctx, backup)
        if reason and await _mark_failed(ctx, backup, BackupStatus.FAILED, reason):
            cleaned.append(Cleaned("backup", rows.saved_id(backup.id), reason))
            if backup.trigger == Trigger.SCHEDULED:
                await record_schedule_outcome(ctx, backup.service_id, reason)
            if backup.worker_id is not None:
                await remove_unfinished_backup(ctx, backup)
    for operation in active:
        reason = stale_reason_of(ctx, operation)
        if reason and await _mark_failed(ctx, operation, OperationStatus.FAILED, reason):
            cleaned.append(Cleaned(operation.kind, rows.saved_id(operation.id), reason))
            if operation.kind == OperationKind.RESTORE:
                await remove_restore_temp(ctx, operation.backup_id)
            else:
                target = await rows.load(ctx.db, Backup, operation.backup_id)
                if target.deleted_at is None:
                    await finish_interrupted_delete(ctx, target)
    for item in cleaned:
        log.warning("%s %s marked failed: %s", item.kind, item.id, item.reason)
    return cleaned


async def _mark_failed(ctx: JobContext, row: Job, status: str, reason: str) -> bool:
    """Only if nobody finished or refreshed it meanwhile (same heartbeat as we read)."""
    return await rows.update_if_unchanged(
        ctx.db, row, status=status, error=reason, finished_at=ctx.clock.now()
    )
