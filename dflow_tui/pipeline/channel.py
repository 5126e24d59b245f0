"""A bounded queue of byte chunks between two neighbours of a pipeline, each a thread or a coroutine.

asyncio.Queue cannot be waited on from a thread and queue.Queue cannot be awaited; the stages
run in threads while the source and the sink are coroutines, so one small queue serves both.
Being bounded is the point: a full channel blocks its producer, which is how a slow sink
stops the source from being read (backpressure) instead of letting memory grow.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from dflow_tui.pipeline.errors import PipelineStopped


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Channel:
    """At most `depth` chunks in flight; `end()` marks the end of the data, `abort()` stops both sides."""

    def __init__(self, depth: int, loop: asyncio.AbstractEventLoop) -> None:
        if depth < 1:
            raise ValueError("a channel holds at least one chunk")
        self._depth = depth
        self._loop = loop
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._chunks: deque[bytes] = deque()
        self._ended = False
        self._aborted = False
        self._async_waiters: list[asyncio.Future[None]] = []

    # -- producer side -------------------------------------------------

    def put(self, chunk: bytes) -> None:
        """Append a chunk, blocking this thread while the channel is full."""
        with self._changed:
            while not self._can_put_locked():
                self._changed.wait()
            self._chunks.append(chunk)
            self._notify_locked()

    async def put_async(self, chunk: bytes) -> None:
        """Append a chunk, waiting (without blocking the loop) while the channel is full."""
        while True:
            with self._lock:
                if self._can_put_locked():
                    self._chunks.append(chunk)
                    self._notify_locked()
                    return
                waiter = self._add_async_waiter_locked()
            await self._wait(waiter)

    def end(self) -> None:
        """No more chunks: the consumer gets b"" once it has taken the ones queued."""
        with self._lock:
            self._ended = True
            self._notify_locked()

    # -- consumer side -------------------------------------------------

    def get(self) -> bytes:
        """The next chunk, blocking this thread while there is none; b"" at the end of the data."""
        with self._changed:
            while not self._can_get_locked():
                self._changed.wait()
            return self._take_locked()

    async def get_async(self) -> bytes:
        """The next chunk, waiting (without blocking the loop) while there is none; b"" at the end."""
        while True:
            with self._lock:
                if self._can_get_locked():
                    return self._take_locked()
                waiter = self._add_async_waiter_locked()
            await self._wait(waiter)

    # -- either side, or the runner -------------------------------------

    def abort(self) -> None:
        """Wake everyone waiting; from now on every put and get raises PipelineStopped."""
        with self._lock:
            self._aborted = True
            self._chunks.clear()
            self._notify_locked()

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._chunks)

    # -- internals (call with the lock held) ----------------------------

    def _can_put_locked(self) -> bool:
        if self._aborted:
            raise PipelineStopped("the pipeline was stopped")
        if self._ended:
            raise RuntimeError("put() after end()")
        return len(self._chunks) < self._depth

    def _can_get_locked(self) -> bool:
        if self._aborted:
            raise PipelineStopped("the pipeline was stopped")
        return bool(self._chunks) or self._ended

    def _take_locked(self) -> bytes:
        if not self._chunks:
            return b""
        chunk = self._chunks.popleft()
        self._notify_locked()
        return chunk

    def _notify_locked(self) -> None:
        self._changed.notify_all()
        waiters, self._async_waiters = self._async_waiters, []
        for waiter in waiters:
            # Safe from any thread; on the loop's own thread it only defers the wake-up by one turn.
            self._loop.call_soon_threadsafe(_wake, waiter)

    def _add_async_waiter_locked(self) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._async_waiters.append(waiter)
        return waiter

    async def _wait(self, waiter: asyncio.Future[None]) -> None:
        try:
            await waiter
        finally:
            with self._lock:
                if waiter in self._async_waiters:
                    self._async_waiters.remove(waiter)
