"""Recording how a job ended: a failed backup or operation row, and a scheduled run's
outcome on its service's schedule (success clears the backoff, a failure extends it)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from dflow_tui.core.policy import retry_delay
from dflow_tui.core.tiers import Tier
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.failure import failure_text
from dflow_tui.jobs.heartbeat import Heartbeat
from dflow_tui.store.queries import rows, schedules
from dflow_tui.store.queries.rows import Job

FAILED = "failed"  # the same word for backups and operations


async def record_failure(
    ctx: JobContext,
    model: type[Job],
    row_id: int,
    active: Sequence[str],
    error: BaseException,
    pulse: Heartbeat | None,
) -> tuple[Job, bool]:
    """Marks the row failed (unless stale cleanup already settled it) and returns it,
    with whether the error must propagate: a cancellation does, unless it came from
    our own heartbeat (the job was superseded, or somebody asked to cancel it)."""
    on_purpose = pulse is not None and pulse.stopped_on_purpose
    task = asyncio.current_task()
    if on_purpose and task is not None and task.cancelling():
        task.uncancel()
    cancelled_by = pulse.cancelled_by if pulse is not None else None
    text = failure_text(error, ctx.secrets, cancelled_by=cancelled_by)
    await rows.update_if_ours(
        ctx.db,
        model,
        row_id,
        ctx.worker_id,
        active,
        status=FAILED,
        error=text,
        finished_at=ctx.clock.now(),
    )
    row = await rows.load(ctx.db, model, row_id)
    return row, isinstance(error, asyncio.CancelledError) and not on_purpose


async def record_schedule_outcome(ctx: JobContext, service_id: int, error: str | None) -> None:
    """Success clears the backoff; a failure pushes the next attempt out (10 min, 20, 40… capped)."""

    def next_attempt(failures: int, tiers: Sequence[Tier]) -> datetime:
        return ctx.clock.now() + retry_delay(failures, tiers)

    await schedules.record_outcome(ctx.db, service_id, error, next_attempt)
