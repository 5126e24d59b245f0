"""Runs claimed jobs: queued backups (then retention for scheduled ones) and operations."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dflow_tui.core.enums import BackupStatus, OperationKind, Trigger
from dflow_tui.jobs import records
from dflow_tui.jobs.backup import run_backup
from dflow_tui.jobs.claim import claim_backup, claim_operation
from dflow_tui.jobs.context import JobContext, ProgressCallback
from dflow_tui.jobs.delete import run_delete
from dflow_tui.jobs.prune import prune_tier
from dflow_tui.jobs.restore import run_restore
from dflow_tui.jobs.schedule_outcome import record_schedule_outcome
from dflow_tui.store.tables import Backup

log = logging.getLogger("dflow_tui.runner")


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker has claimed: what a face needs to show it, and how to run it."""

    key: str  # "backup 12", "restore 4" (the operation id): unique among running jobs
    label: str  # "Scheduled daily backup 12", "Restore of backup 4"
    backup_id: int
    service_id: int
    start: Callable[[ProgressCallback | None], Awaitable[object]]

    def run(self, on_progress: ProgressCallback | None = None) -> Awaitable[object]:
        return self.start(on_progress)


async def run_claimed_backup(
    ctx: JobContext, backup_id: int, on_progress: ProgressCallback | None = None
) -> None:
    finished = await run_backup(ctx, backup_id, on_progress)
    log.info("backup %s %s%s", backup_id, finished.status, f": {finished.error}" if finished.error else "")
    if finished.trigger != Trigger.SCHEDULED:
        return
    succeeded = finished.status == BackupStatus.SUCCESS
    await record_schedule_outcome(ctx, finished.service_id, None if succeeded else finished.error)
    if succeeded:
        await prune_tier(ctx, finished, on_progress)


async def next_job(ctx: JobContext) -> ClaimedJob | None:
    """The next claimable job, claimed by this worker; None when the queue is empty."""
    backup_id = await claim_backup(ctx)
    if backup_id is not None:
        backup = await records.load(ctx.db, Backup, backup_id)
        tier = f" {backup.schedule_tier}" if backup.schedule_tier else ""
        label = f"{backup.trigger.capitalize()}{tier} backup {backup_id}"
        return ClaimedJob(
            key=f"backup {backup_id}",
            label=label,
            backup_id=backup_id,
            service_id=backup.service_id,
            start=lambda on_progress: run_claimed_backup(ctx, backup_id, on_progress),
        )
    operation = await claim_operation(ctx)
    if operation is not None:
        backup = await records.load(ctx.db, Backup, operation.backup_id)
        run = run_restore if operation.kind == OperationKind.RESTORE else run_delete
        return ClaimedJob(
            key=f"{operation.kind} {operation.id}",
            label=f"{operation.kind.capitalize()} of backup {operation.backup_id}",
            backup_id=operation.backup_id,
            service_id=backup.service_id,
            start=lambda on_progress: run(ctx, operation.id, on_progress),
        )
    return None


async def drain(ctx: JobContext) -> int:
    """Runs every claimable job, one after another; returns how many ran."""
    count = 0
    while (job := await next_job(ctx)) is not None:
        await job.run()
        count += 1
    return count
