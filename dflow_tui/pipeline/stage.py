"""What a stage of the data path is: a blocking transform from a byte stream to a byte stream.

A stage runs in a thread of its own, reading until `reader.read()` gives b"" and writing what
it makes. Blocking is the right model here: the work is CPU-bound C code (zstd, age, sha256)
that releases the GIL, so the stages of one pipeline really run side by side; and the
libraries' streaming APIs are themselves blocking `read`/`write` loops.
"""

from __future__ import annotations

from typing import Protocol

from dflow_tui.pipeline.streams import ChannelReader, ChannelWriter


class Stage(Protocol):
    """One transform of the data path. A stage object is used for one run only."""

    @property
    def name(self) -> str: ...

    def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        """Read the whole input, write the whole output; raise a DflowError with one clear sentence on bad data.

        Never call `writer.finish()`: the runner sends the end of the data only once `run`
        returned normally, so a stage that fails can never make its output look complete.
        """
        ...
