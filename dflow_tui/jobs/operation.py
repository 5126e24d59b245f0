"""The shared life of a restore, delete or drill operation: running → succeeded / failed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dflow_tui.core.enums import ACTIVE_OPERATION_STATUSES, OperationStatus
from dflow_tui.core.errors import Conflict
from dflow_tui.jobs.context import JobContext, ProgressCallback, report
from dflow_tui.jobs.heartbeat import heartbeat
from dflow_tui.jobs.settle import record_failure
from dflow_tui.store.queries import rows
from dflow_tui.store.tables import Operation


async def run_operation(
    ctx: JobContext,
    operation_id: int,
    body: Callable[[Operation], Awaitable[None]],
    on_progress: ProgressCallback | None = None,
) -> Operation:
    try:
        return await _run(ctx, operation_id, body, on_progress)
    finally:
        ctx.identities.pop(operation_id, None)  # a private key is held no longer than its job


async def _run(
    ctx: JobContext,
    operation_id: int,
    body: Callable[[Operation], Awaitable[None]],
    on_progress: ProgressCallback | None,
) -> Operation:
    now = ctx.clock.now()
    # Only an operation this process claimed that is still queued: an ended one is never
    # run again (a restore re-imported, a delete repeated), whoever asks.
    started = await rows.update_if_ours(
        ctx.db,
        Operation,
        operation_id,
        ctx.worker_id,
        (OperationStatus.QUEUED,),
        status=OperationStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
    )
    if started is None:
        current = await rows.load(ctx.db, Operation, operation_id)
        raise Conflict(
            f"The {current.kind} of backup {current.backup_id} is {current.status} and not queued for "
            "this process: not run again"
        )
    operation = started
    job = f"{operation.kind} of backup {operation.backup_id}"

    async def beat() -> Operation | None:
        return await rows.update_if_ours(
            ctx.db,
            Operation,
            operation_id,
            ctx.worker_id,
            ACTIVE_OPERATION_STATUSES,
            heartbeat_at=ctx.clock.now(),
        )

    pulse = None
    try:
        key = ("operation", operation_id)
        async with heartbeat(beat, ctx.settings.heartbeat_interval, key, ctx.heartbeats, operation) as pulse:
            await body(operation)
    except BaseException as error:
        failed, propagate = await record_failure(
            ctx, Operation, operation_id, ACTIVE_OPERATION_STATUSES, error, pulse
        )
        report(on_progress, job, f"failed: {failed.error}")
        if propagate:
            raise
        return failed
    report(on_progress, job, "done")
    finished = await rows.update_if_ours(
        ctx.db,
        Operation,
        operation_id,
        ctx.worker_id,
        ACTIVE_OPERATION_STATUSES,
        status=OperationStatus.SUCCEEDED,
        progress=1.0,
        finished_at=ctx.clock.now(),
    )
    return finished or await rows.load(ctx.db, Operation, operation_id)
