"""Keeps a running job's heartbeat fresh, so stale cleanup can tell it is alive.

If the beat finds the job is no longer ours (stale cleanup failed it, say), the
job is cancelled: two runs of one job never go on side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Awaitable, Callable


class Heartbeat:
    def __init__(self) -> None:
        self.superseded = False


@contextlib.asynccontextmanager
async def heartbeat(beat: Callable[[], Awaitable[bool]], interval: float):
    """`beat()` refreshes the row and says whether the job is still ours."""
    job = asyncio.current_task()
    state = Heartbeat()

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                ours = await beat()
            except Exception:
                continue  # a busy database now and then must not kill the job
            if not ours:
                state.superseded = True
                job.cancel()
                return

    task = asyncio.create_task(loop())
    try:
        yield state
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
