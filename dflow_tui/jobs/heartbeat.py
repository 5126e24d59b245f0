"""Keeps a running job's heartbeat fresh, so stale cleanup can tell it is alive.

Each beat also reads the row back. If the job is no longer ours (stale cleanup
failed it, say), it is cancelled: two runs of one job never go on side by side.
If somebody asked to cancel it, it is cancelled too, and says by whom.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from dflow_tui.core.errors import Cancelled

log = logging.getLogger("dflow_tui.heartbeat")


class Heartbeat:
    def __init__(self) -> None:
        self.superseded = False
        self.cancelled_by: str | None = None
        # Past its point of no return (a restore importing, a delete removing), a job is
        # never cut short by anyone: stopping it would leave the data neither old nor new.
        self.irreversible = False
        self._wake = asyncio.Event()

    @property
    def stopped_on_purpose(self) -> bool:
        """The job's own heartbeat cancelled it (it is not the caller's cancellation)."""
        return self.superseded or self.cancelled_by is not None

    def beat_now(self) -> None:
        """Beat at once instead of at the next interval (a cancel request just came)."""
        self._wake.set()


JobKey = tuple[str, int]  # ("backup" or "operation", row id)


class JobRow(Protocol):
    """A backup or operation row, as far as its heartbeat reads it."""

    @property
    def cancel_requested_by(self) -> str | None: ...


@contextlib.asynccontextmanager
async def heartbeat(
    beat: Callable[[], Awaitable[JobRow | None]],
    interval: float,
    key: JobKey,
    running: dict[JobKey, Heartbeat],
    row: JobRow,
) -> AsyncIterator[Heartbeat]:
    """`beat()` refreshes the row and returns it, or None when the job is no longer ours.
    A row with `cancel_requested_by` set stops the job: `row`, as the job starts, at
    once; later ones at a beat. While it runs, the job's heartbeat is in `running`, so
    a cancel request made in this process is seen at once."""
    job = asyncio.current_task()
    assert job is not None  # a job runs as a task
    state = Heartbeat()
    if row.cancel_requested_by:  # asked before it even started: nothing to interrupt
        raise Cancelled(row.cancel_requested_by)

    async def loop() -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(state._wake.wait(), interval)
            state._wake.clear()
            try:
                row = await beat()
            except Exception:
                continue  # a busy database now and then must not kill the job
            if row is None:
                if state.irreversible:
                    log.warning(
                        "%s %s was settled by others while past its point of no return: "
                        "it runs on to its end",
                        *key,
                    )
                    continue
                state.superseded = True
                job.cancel()
                return
            if row.cancel_requested_by:
                state.cancelled_by = row.cancel_requested_by
                job.cancel()
                return

    running[key] = state
    task = asyncio.create_task(loop())
    try:
        yield state
    finally:
        if running.get(key) is state:
            del running[key]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
