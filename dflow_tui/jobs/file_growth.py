"""How far a server command writing a file has got: its size, read now and then.

An internal backup's export runs as one command that writes straight into a partial
file on the server; nothing streams through us to count. So while it runs, the
partial file's size is read over the same connection and reported as bytes moved.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from dflow_tui.remote import files
from dflow_tui.remote.transport import Transport

T = TypeVar("T")
POLL_INTERVAL = 1.0


async def while_measuring(
    transport: Transport,
    path: str,
    work: Awaitable[T],
    on_size: Callable[[int], None],
    interval: float = POLL_INTERVAL,
) -> T:
    """Awaits `work`, reporting the size of `path` every `interval` seconds meanwhile.
    A size that cannot be read is skipped: measuring never fails the work."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=interval)
            if done:
                return task.result()
            with contextlib.suppress(Exception):
                result = await transport.run(files.file_size(path), timeout=interval * 10)
                size = files.parse_size(result.stdout) if result.ok else None
                if size is not None and not task.done():
                    on_size(size)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
