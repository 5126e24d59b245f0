"""One way for a job to run, whoever started it: a key in the app, the CLI, the scheduler.

A job is a row this process has claimed: a backup (then, for a scheduled one, the
schedule's outcome and its tier's retention), or an operation (a restore, with its
safety backup first when asked for, or a delete). Running it ends with an audit entry
and an outcome in words that every face shows as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from dflow_tui.core.enums import BackupStatus, OperationStatus, Trigger
from dflow_tui.core.views import human_size
from dflow_tui.jobs import audit, notify
from dflow_tui.jobs.backup import run_backup
from dflow_tui.jobs.context import JobContext, ProgressCallback
from dflow_tui.jobs.copy_backup import run_copy
from dflow_tui.jobs.delete import run_delete
from dflow_tui.jobs.drill import run_drill
from dflow_tui.jobs.prune import prune_tier
from dflow_tui.jobs.restore import run_restore
from dflow_tui.jobs.settle import record_schedule_outcome
from dflow_tui.store.queries import claims, inventory, rows
from dflow_tui.store.tables import Backup, Operation

log = logging.getLogger("dflow_tui.runner")


class JobKind(StrEnum):
    BACKUP = "backup"
    RESTORE = "restore"
    DELETE = "delete"
    DRILL = "drill"
    COPY = "copy"


@dataclass(frozen=True)
class ClaimedJob:
    """A job this process has claimed: what a face needs to show it, and which row it runs."""

    kind: JobKind
    row_id: int  # the backup's id, or the operation's
    label: str  # "Backup 12", "Scheduled daily backup 12", "Restore of backup 4"
    backup_id: int  # the row of the backup list it works on
    service_id: int
    service_path: str
    requested_by: str | None

    @property
    def key(self) -> str:
        """Unique among running jobs: "backup 12", "restore 4" (the operation's id)."""
        return f"{self.kind} {self.row_id}"


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended, in the words every face shows."""

    job: ClaimedJob
    succeeded: bool
    title: str  # "Backup done", "Restore failed"
    message: str  # one sentence, the error included when it failed
    error: str | None = None
    warning: bool = False  # it succeeded, but not wholly: a copy of the backup failed


async def backup_job(ctx: JobContext, backup_id: int) -> ClaimedJob:
    backup = await rows.load(ctx.db, Backup, backup_id)
    path = await inventory.service_path(ctx.db, backup.service_id)
    if backup.trigger == Trigger.SCHEDULED:
        label = f"Scheduled {backup.schedule_tier or ''} backup {backup_id}".replace("  ", " ")
    else:
        label = f"Backup {backup_id}"
    return ClaimedJob(
        JobKind.BACKUP, backup_id, label, backup_id, backup.service_id, path, backup.requested_by
    )


async def operation_job(ctx: JobContext, operation: Operation) -> ClaimedJob:
    """A restore into another service is shown, audited and told under that service."""
    backup = await rows.load(ctx.db, Backup, operation.backup_id)
    service_id = operation.target_service_id or backup.service_id
    path = await inventory.service_path(ctx.db, service_id)
    kind = JobKind(operation.kind.value)
    label = f"{kind.capitalize()} of backup {operation.backup_id}"
    if operation.target_service_id is not None:
        label += f" into {path}"
    if operation.copy_to is not None:
        label += f" to {operation.copy_to}"
    return ClaimedJob(
        kind,
        rows.saved_id(operation.id),
        label,
        operation.backup_id,
        service_id,
        path,
        operation.requested_by,
    )


async def next_job(ctx: JobContext) -> ClaimedJob | None:
    """The next claimable job, claimed by this process; None when the queue is empty."""
    backup_id = await claims.claim_backup(ctx.db, ctx.worker_id, ctx.clock)
    if backup_id is not None:
        return await backup_job(ctx, backup_id)
    operation = await claims.claim_operation(ctx.db, ctx.worker_id, ctx.clock)
    if operation is not None:
        return await operation_job(ctx, operation)
    return None


async def run_job(
    ctx: JobContext, job: ClaimedJob, on_progress: ProgressCallback | None = None
) -> JobOutcome:
    """Runs a claimed job to its end and records how it ended."""
    if job.kind is JobKind.BACKUP:
        return await _run_backup_job(ctx, job, on_progress)
    run = {
        JobKind.RESTORE: run_restore,
        JobKind.DELETE: run_delete,
        JobKind.DRILL: run_drill,
        JobKind.COPY: run_copy,
    }[job.kind]
    operation = await run(ctx, job.row_id, on_progress)
    await audit.record(
        ctx,
        job.requested_by or "unknown",
        f"backup.{job.kind}",
        audit.job_result(operation.status == OperationStatus.SUCCEEDED, operation.error),
        service_path=job.service_path,
        target=f"backup {job.backup_id}",
        detail=operation.error or _read_from_detail(operation),
    )
    await notify.operation_ended(ctx, operation, job.service_path)
    return _operation_outcome(job, operation)


async def _run_backup_job(
    ctx: JobContext, job: ClaimedJob, on_progress: ProgressCallback | None
) -> JobOutcome:
    finished = await run_backup(ctx, job.row_id, on_progress)
    log.info("backup %s %s%s", job.row_id, finished.status, f": {finished.error}" if finished.error else "")
    await audit.record(
        ctx,
        job.requested_by or "unknown",
        "backup.create",
        audit.job_result(finished.status == BackupStatus.SUCCESS, finished.error),
        service_path=job.service_path,
        target=f"backup {job.row_id}",
        detail=finished.error or finished.file_path or finished.object_key,
    )
    succeeded = finished.status == BackupStatus.SUCCESS
    await notify.backup_ended(ctx, finished, job.label, job.service_path)
    if finished.trigger == Trigger.SCHEDULED:
        await record_schedule_outcome(ctx, finished.service_id, None if succeeded else finished.error)
        if succeeded:
            await prune_tier(ctx, finished, on_progress)
    if succeeded:
        done = f"{job.label} of {job.service_path} finished ({human_size(finished.size_bytes)})"
        missing = await notify.missing_copies(ctx, finished)
        if missing:
            why = "; ".join(f"the copy to {name} failed: {reason}" for name, reason in missing)
            return JobOutcome(job, True, "Backup degraded", f"{done}, but {why}", warning=True)
        return JobOutcome(job, True, "Backup done", f"{done}.")
    return JobOutcome(
        job,
        False,
        "Backup failed",
        f"{job.label} of {job.service_path} failed: {finished.error}",
        finished.error,
    )


def _read_from(operation: Operation) -> str:
    return f" (from {operation.restored_from})" if operation.restored_from else ""


def _read_from_detail(operation: Operation) -> str | None:
    if operation.copy_to is not None:
        return f"copied to {operation.copy_to}, read from {operation.restored_from}"
    return f"from {operation.restored_from}" if operation.restored_from else None


def _operation_outcome(job: ClaimedJob, operation: Operation) -> JobOutcome:
    done = operation.status == OperationStatus.SUCCEEDED
    if job.kind is JobKind.RESTORE:
        if done:
            return JobOutcome(
                job,
                True,
                "Restore done",
                f"{job.service_path} now holds the data of backup {job.backup_id}{_read_from(operation)}.",
            )
        return JobOutcome(
            job,
            False,
            "Restore failed",
            f"Restore of backup {job.backup_id} into {job.service_path} failed: {operation.error}",
            operation.error,
        )
    if job.kind is JobKind.DRILL:
        if done:
            return JobOutcome(
                job,
                True,
                "Drill passed",
                f"Backup {job.backup_id} of {job.service_path} restores: {operation.probe}.",
            )
        return JobOutcome(
            job,
            False,
            "Drill failed",
            f"The drill of backup {job.backup_id} of {job.service_path} failed: {operation.error}",
            operation.error,
        )
    if job.kind is JobKind.COPY:
        if done:
            return JobOutcome(
                job,
                True,
                "Copy done",
                f"Backup {job.backup_id} of {job.service_path} is copied to {operation.copy_to} "
                f"(read from {operation.restored_from}).",
            )
        return JobOutcome(
            job,
            False,
            "Copy failed",
            f"The copy of backup {job.backup_id} to {operation.copy_to} failed: {operation.error}",
            operation.error,
        )
    if done:
        return JobOutcome(
            job, True, "Backup deleted", f"Deleted backup {job.backup_id} of {job.service_path}."
        )
    return JobOutcome(
        job,
        False,
        "Delete failed",
        f"Delete of backup {job.backup_id} failed: {operation.error}",
        operation.error,
    )
