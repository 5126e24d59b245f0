"""Recording that a job failed, shared by backups and operations."""

from __future__ import annotations

import asyncio

from dflow_tui.jobs import records
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.failure import failure_text
from dflow_tui.jobs.heartbeat import Heartbeat

FAILED = "failed"  # the same word for backups and operations


async def record_failure(
    ctx: JobContext,
    model,
    row_id: int,
    active: tuple[str, ...],
    error: BaseException,
    pulse: Heartbeat | None,
):
    """Marks the row failed (unless stale cleanup already settled it) and returns it,
    with whether the error must propagate: a cancellation does, unless it came from
    our own heartbeat (the job was superseded, or somebody asked to cancel it)."""
    on_purpose = pulse is not None and pulse.stopped_on_purpose
    if on_purpose and asyncio.current_task().cancelling():
        asyncio.current_task().uncancel()
    cancelled_by = pulse.cancelled_by if pulse is not None else None
    text = failure_text(error, ctx.secrets, cancelled_by=cancelled_by)
    await records.update_if_ours(
        ctx.db,
        model,
        row_id,
        ctx.worker_id,
        active,
        status=FAILED,
        error=text,
        finished_at=ctx.clock.now(),
    )
    row = await records.load(ctx.db, model, row_id)
    return row, isinstance(error, asyncio.CancelledError) and not on_purpose
