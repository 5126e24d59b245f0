"""Keeping the end of a command's stderr in bounded memory."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Awaitable, Callable

from dflow_tui.core.safe_text import printable
from dflow_tui.remote.transport import CHUNK_SIZE, STDERR_KEEP_BYTES, OutputCallback

TRUNCATED_NOTE = "[earlier stderr output dropped]\n"
MAX_LINE_CHARS = 300


class StderrTail:
    """The last `keep` bytes written to a stream, decoded on demand; with `on_line`,
    each complete non-blank line is also handed over as it arrives."""

    def __init__(self, keep: int = STDERR_KEEP_BYTES, on_line: OutputCallback | None = None) -> None:
        self._keep = keep
        self._buffer = bytearray()
        self._dropped = False
        self._on_line = on_line
        self._partial = b""

    def feed(self, data: bytes) -> None:
        if self._on_line is not None:
            self._pass_lines(data)
        self._buffer += data
        excess = len(self._buffer) - self._keep
        if excess > 0:
            del self._buffer[:excess]
            self._dropped = True

    def _pass_lines(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > MAX_LINE_CHARS * 4:  # a line with no end in sight
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._hand_over(line)

    def _hand_over(self, line: bytes) -> None:
        on_line = self._on_line
        if on_line is None:
            return
        text = printable(line.decode("utf-8", errors="replace")).rstrip()
        if text.strip():
            with contextlib.suppress(Exception):
                on_line(text[:MAX_LINE_CHARS])

    def end(self) -> None:
        """The stream is over: an unterminated last line is handed over too."""
        if self._on_line is not None and self._partial:
            self._hand_over(self._partial)
        self._partial = b""

    async def drain(self, read: Callable[[int], Awaitable[bytes]]) -> None:
        """Read until EOF (or until the stream breaks) into the tail."""
        try:
            while chunk := await read(CHUNK_SIZE):
                self.feed(chunk)
        except Exception:
            return
        finally:
            self.end()

    def text(self) -> str:
        body = printable(bytes(self._buffer).decode("utf-8", errors="replace"))
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
