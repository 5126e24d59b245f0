"""Keeps a running job's heartbeat fresh, so stale cleanup can tell it is alive."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Awaitable, Callable


@contextlib.asynccontextmanager
async def heartbeat(beat: Callable[[], Awaitable[None]], interval: float):
    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await beat()

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
