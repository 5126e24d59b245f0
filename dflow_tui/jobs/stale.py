"""Stale job cleanup: a job whose worker died is marked failed, and what it left is removed."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

from dflow_tui.core.enums import AuditResult, BackupStatus, OperationKind, OperationStatus, Trigger
from dflow_tui.core.policy import owner_place, stale_reason
from dflow_tui.jobs import audit
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.copy_backup import remove_unfinished_copy
from dflow_tui.jobs.drill import destroy_after_crash
from dflow_tui.jobs.recovery import (
    finish_interrupted_delete,
    remove_restore_temp,
    remove_unfinished_backup,
)
from dflow_tui.jobs.settle import record_schedule_outcome
from dflow_tui.store.queries import backups, inventory, operations, rows
from dflow_tui.store.queries.rows import Job
from dflow_tui.store.tables import Backup, Operation

log = logging.getLogger("dflow_tui.stale")
CLEANUP_ACTOR = "stale-cleanup"


@dataclass(frozen=True)
class Cleaned:
    kind: str  # "backup" or the operation kind
    id: int
    reason: str
    service_id: int | None = None  # of the backup, or of the backup the operation acts on


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
        owner_gone=row.worker_id is not None and owner_gone(row.worker_id),
    )


def owner_gone(worker_id: str) -> bool:
    """Whether the job's owner was a process on this host that no longer exists. A process
    elsewhere, or one we may not signal, is judged by its heartbeats instead."""
    place = owner_place(worker_id)
    if place is None or place[0] != socket.gethostname():
        return False
    try:
        os.kill(place[1], 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, under another account
        return False
    return False


async def cleanup_stale(ctx: JobContext) -> list[Cleaned]:
    cleaned: list[Cleaned] = []
    async with ctx.db.session() as session:
        running = await backups.in_progress(session)
        active = await operations.active_operations(session)
    for backup in running:
        reason = stale_reason_of(ctx, backup)
        if reason and await _mark_failed(ctx, backup, BackupStatus.FAILED, reason):
            cleaned.append(Cleaned("backup", rows.saved_id(backup.id), reason, backup.service_id))
            if backup.trigger == Trigger.SCHEDULED:
                await record_schedule_outcome(ctx, backup.service_id, reason)
            if backup.worker_id is not None:
                await remove_unfinished_backup(ctx, backup)
    for operation in active:
        reason = stale_reason_of(ctx, operation)
        if reason and await _mark_failed(ctx, operation, OperationStatus.FAILED, reason):
            target = await rows.load(ctx.db, Backup, operation.backup_id)
            cleaned.append(Cleaned(operation.kind, rows.saved_id(operation.id), reason, target.service_id))
            if operation.kind == OperationKind.RESTORE:
                await remove_restore_temp(ctx, operation)
            elif operation.kind == OperationKind.DRILL:
                await remove_restore_temp(ctx, operation)
                await destroy_after_crash(
                    ctx, await rows.load(ctx.db, Operation, rows.saved_id(operation.id))
                )
            elif operation.kind == OperationKind.COPY:
                await remove_unfinished_copy(ctx, operation)
            else:
                if target.deleted_at is None:
                    await finish_interrupted_delete(ctx, target)
    for item in cleaned:
        log.warning("%s %s marked failed: %s", item.kind, item.id, item.reason)
        path = await inventory.service_path(ctx.db, item.service_id) if item.service_id else None
        await audit.record(
            ctx,
            CLEANUP_ACTOR,
            "job.cleanup",
            AuditResult.SUCCEEDED,
            service_path=path,
            target=f"{item.kind} {item.id}",
            detail=item.reason,
        )
    return cleaned


async def _mark_failed(ctx: JobContext, row: Job, status: str, reason: str) -> bool:
    """Only if nobody finished or refreshed it meanwhile (same heartbeat as we read)."""
    return await rows.update_if_unchanged(
        ctx.db, row, status=status, error=reason, finished_at=ctx.clock.now()
    )
