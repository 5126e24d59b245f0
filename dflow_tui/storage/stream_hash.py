"""sha256 of a byte stream, computed in a worker thread while the event loop moves the bytes.

Hashing on the event loop would stall every other task (the SSH channel, the S3
connections) for the length of each `update()`: sha256 runs at 150-500 MiB/s on a
server core, so an 8 MiB part blocks the loop for 15-50 ms. hashlib releases the GIL
for buffers over 2 KiB, so one worker thread hashes while the loop keeps sending and
receiving. One worker, fed in order, keeps the pieces in order.

    stream_hash = StreamHash()
    try:
        done = stream_hash.submit(part)  # an asyncio future, done once `part` is hashed
        ...
        digest = await stream_hash.hexdigest()
    finally:
        stream_hash.close()

The caller must not modify a submitted buffer before its future is done.
"""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor

Bytes = bytes | bytearray | memoryview


class StreamHash:
    """sha256 of everything submitted, in submission order, hashed in one worker thread."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dflow-sha256")
        self._last: asyncio.Future[None] | None = None
        self.submitted = 0  # bytes submitted
        self._hashed = 0  # bytes hashed (written by the worker only)

    def submit(self, *pieces: Bytes) -> asyncio.Future[None]:
        """Hash `pieces` after everything submitted before; the future is done once they are."""
        self.submitted += sum(memoryview(piece).nbytes for piece in pieces)
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._update, list(pieces))
        self._last = future
        return future

    def _update(self, pieces: list[Bytes]) -> None:
        # Emptied as it goes: the executor's work item keeps its arguments until the thread
        # drops it, which may come after the loop has seen the future done and moved on.
        while pieces:
            piece = pieces.pop(0)
            self._hash.update(piece)
            self._hashed += memoryview(piece).nbytes
            del piece

    async def hexdigest(self) -> str:
        """The sha256 of everything submitted (waits for the worker to catch up)."""
        if self._last is not None:
            await asyncio.shield(self._last)
        if self._hashed != self.submitted:  # a submission was cancelled before it ran
            raise RuntimeError(f"Only {self._hashed} of the {self.submitted} submitted bytes were hashed")
        return self._hash.hexdigest()

    def close(self) -> None:
        """Let the worker thread go; pending submissions that have not started are dropped."""
        self._executor.shutdown(wait=False, cancel_futures=True)
