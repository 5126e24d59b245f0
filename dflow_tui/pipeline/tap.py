"""A stage that passes bytes through unchanged and records their size and sha256.

Records need both figures for the bytes at a given point of the path (the plain dump, the
stored object); a tap placed there gives them without another pass over the data.
"""

from __future__ import annotations

import hashlib

from dflow_tui.pipeline.streams import ChannelReader, ChannelWriter


class Tap:
    """Counts and hashes what passes; `size` and `sha256` are final once the run succeeded."""

    def __init__(self, name: str = "tap") -> None:
        self.name = name
        self._hash = hashlib.sha256()
        self._size = 0
        self._complete = False

    def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        for chunk in reader.chunks():
            self._hash.update(chunk)  # releases the GIL for chunks over 2 KiB
            self._size += len(chunk)
            writer.write(chunk)
        self._complete = True

    @property
    def size(self) -> int:
        self._require_complete()
        return self._size

    @property
    def sha256(self) -> str:
        """Lowercase hex, as `sha256sum` prints it."""
        self._require_complete()
        return self._hash.hexdigest()

    @property
    def bytes_so_far(self) -> int:
        """For progress while the run goes on (read from another thread: a plain int is safe to read)."""
        return self._size

    def _require_complete(self) -> None:
        if not self._complete:
            raise RuntimeError(f"the {self.name} tap has not seen the end of the data")
