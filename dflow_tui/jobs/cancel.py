"""Asking a running job to stop, and the step after which a job can no longer be stopped.

A cancel request is a mark on the row (who asked). The job's heartbeat reads it and
stops the job, wherever it runs: in this process at once, in another worker at its
next beat. Stopping a backup is always safe (its partial file or upload is removed).
A restore can be stopped until its import starts, a delete until it starts removing:
halfway through either, the data would be neither old nor new. Both sides go through
the database, so a request and the point of no return never both succeed.
"""

from __future__ import annotations

from dflow_tui.core.enums import ACTIVE_OPERATION_STATUSES, BackupStatus
from dflow_tui.core.errors import Cancelled, Conflict
from dflow_tui.core.policy import too_late_to_cancel
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.heartbeat import JobKey
from dflow_tui.store.queries import backups, operations
from dflow_tui.store.tables import Backup, Operation


async def request_backup_cancel(ctx: JobContext, backup_id: int, by: str) -> Backup:
    marked, backup = await backups.request_cancel(ctx.db, backup_id, by)
    if not marked:
        raise Conflict(
            f"Backup {backup_id} is {BackupStatus(backup.status).phrase}: there is nothing to cancel"
        )
    _beat_now(ctx, ("backup", backup_id))
    return backup


async def request_operation_cancel(ctx: JobContext, operation_id: int, by: str) -> Operation:
    marked, operation = await operations.request_cancel(ctx.db, operation_id, by)
    if not marked:
        if operation.status not in ACTIVE_OPERATION_STATUSES:
            raise Conflict(f"The {operation.kind} of backup {operation.backup_id} has already ended")
        raise Conflict(too_late_to_cancel(operation.kind, operation.backup_id))
    _beat_now(ctx, ("operation", operation_id))
    return operation


async def point_of_no_return(ctx: JobContext, operation_id: int) -> None:
    """Marks the operation irreversible, unless a cancel request came first: then it
    stops here, before anything has changed."""
    marked, operation = await operations.mark_irreversible(
        ctx.db, operation_id, ctx.worker_id, ctx.clock.now()
    )
    if marked:
        pulse = ctx.heartbeats.get(("operation", operation_id))
        if pulse is not None:
            pulse.irreversible = True
        return
    if operation.cancel_requested_by:
        raise Cancelled(operation.cancel_requested_by)
    raise Conflict(f"Operation {operation_id} is no longer run by this worker")


def _beat_now(ctx: JobContext, key: JobKey) -> None:
    pulse = ctx.heartbeats.get(key)
    if pulse is not None:
        pulse.beat_now()
