"""Keeping the end of a command's stderr in bounded memory."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

from dflow_tui.remote.transport import CHUNK_SIZE, STDERR_KEEP_BYTES

TRUNCATED_NOTE = "[earlier stderr output dropped]\n"


class StderrTail:
    """The last `keep` bytes written to a stream, decoded on demand."""

    def __init__(self, keep: int = STDERR_KEEP_BYTES) -> None:
        self._keep = keep
        self._buffer = bytearray()
        self._dropped = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        excess = len(self._buffer) - self._keep
        if excess > 0:
            del self._buffer[:excess]
            self._dropped = True

    async def drain(self, read: Callable[[int], Awaitable[bytes]]) -> None:
        """Read until EOF (or until the stream breaks) into the tail."""
        try:
            while chunk := await read(CHUNK_SIZE):
                self.feed(chunk)
        except Exception:  # noqa: BLE001 - a broken stream just ends the tail
            return

    def text(self) -> str:
        body = bytes(self._buffer).decode("utf-8", errors="replace")
        return TRUNCATED_NOTE + body if self._dropped else body


def status_from_signal(signal_name: str | None) -> int:
    """128 + signal number, as a shell reports a command killed by a signal."""
    if signal_name:
        name = signal_name.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        try:
            return 128 + int(signal.Signals[name])
        except KeyError:
            pass
    return 255
