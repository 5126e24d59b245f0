"""File-like ends of a channel, so a stage can be any blocking `reader -> writer` function.

zstandard's and pyrage's streaming APIs take objects with `read(n)` and `write(b)`; giving
them these lets the libraries run at their own pace in a stage's thread while the channels
keep memory bounded. They are duck-typed on purpose (not io.IOBase subclasses): IOBase
closes itself when collected, and an end of stream must only ever be sent on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator

from dflow_tui.pipeline.channel import Channel


class ChannelReader:
    """Reads a channel as a byte stream; b"" means the producer ended the data."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._chunk = b""
        self._offset = 0
        self._at_end = False

    def read(self, size: int | None = -1) -> bytes:
        """At most `size` bytes (fewer is normal); a negative size gives the next chunk, never the whole stream."""
        if size == 0:
            return b""
        if self._offset >= len(self._chunk) and not self._next_chunk():
            return b""
        if size is None or size < 0 or (self._offset == 0 and size >= len(self._chunk)):
            piece = self._chunk[self._offset :] if self._offset else self._chunk
        else:
            piece = self._chunk[self._offset : self._offset + size]
        self._offset += len(piece)
        return piece

    def chunks(self) -> Iterator[bytes]:
        """The rest of the stream chunk by chunk, without copying."""
        while piece := self.read(-1):
            yield piece

    def readable(self) -> bool:
        return True

    @property
    def at_end(self) -> bool:
        return self._at_end

    def _next_chunk(self) -> bool:
        if self._at_end:
            return False
        chunk = self._channel.get()
        if not chunk:
            self._at_end = True
            return False
        self._chunk, self._offset = chunk, 0
        return True


class ChannelWriter:
    """Writes a byte stream into a channel, in chunks of about `chunk_size`.

    Libraries write in small pieces (pyrage: 64 KiB, or 8 KiB when decrypting); gathering them
    keeps the number of hand-overs per MiB low. A piece already at least `chunk_size` long
    passes through as it is, uncopied.
    """

    def __init__(self, channel: Channel, chunk_size: int) -> None:
        self._channel = channel
        self._chunk_size = chunk_size
        self._pending = bytearray()
        self._finished = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(data)
        if self._finished:
            raise ValueError("write() after finish()")
        if not self._pending and size >= self._chunk_size:
            self._channel.put(data if isinstance(data, bytes) else bytes(data))
            return size
        self._pending += data
        if len(self._pending) >= self._chunk_size:
            self._send_pending()
        return size

    def flush(self) -> None:
        """Deliberately nothing: libraries flush on their own schedule, and only finish() ends the data."""

    def writable(self) -> bool:
        return True

    def finish(self) -> None:
        """Send what is gathered and tell the consumer the data is complete."""
        if self._finished:
            return
        if self._pending:
            self._send_pending()
        self._finished = True
        self._channel.end()

    def _send_pending(self) -> None:
        chunk = bytes(self._pending)
        self._pending.clear()
        self._channel.put(chunk)
