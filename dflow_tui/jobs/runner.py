"""Runs claimed jobs: queued backups (then retention for scheduled ones) and operations."""

from __future__ import annotations

import logging

from dflow_tui.core.models import BackupStatus, OperationKind, Trigger
from dflow_tui.jobs.backup import run_backup
from dflow_tui.jobs.claim import claim_backup, claim_operation
from dflow_tui.jobs.context import JobContext, ProgressCallback
from dflow_tui.jobs.delete import run_delete
from dflow_tui.jobs.prune import prune_tier
from dflow_tui.jobs.restore import run_restore
from dflow_tui.jobs.schedule_outcome import record_schedule_outcome

log = logging.getLogger("dflow_tui.runner")


async def run_claimed_backup(ctx: JobContext, backup_id: int, on_progress: ProgressCallback | None = None) -> None:
    finished = await run_backup(ctx, backup_id, on_progress)
    log.info("backup %s %s%s", backup_id, finished.status, f": {finished.error}" if finished.error else "")
    if finished.trigger != Trigger.SCHEDULED.value:
        return
    succeeded = finished.status == BackupStatus.SUCCESS.value
    await record_schedule_outcome(ctx, finished.service_id, None if succeeded else finished.error)
    if succeeded:
        await prune_tier(ctx, finished, on_progress)


async def next_job(ctx: JobContext):
    """A coroutine running the next claimable job, or None when the queue is empty."""
    backup_id = await claim_backup(ctx)
    if backup_id is not None:
        return run_claimed_backup(ctx, backup_id)
    operation = await claim_operation(ctx)
    if operation is not None:
        run = run_restore if operation.kind == OperationKind.RESTORE.value else run_delete
        return run(ctx, operation.id)
    return None


async def drain(ctx: JobContext) -> int:
    """Runs every claimable job, one after another; returns how many ran."""
    count = 0
    while (job := await next_job(ctx)) is not None:
        await job
        count += 1
    return count
