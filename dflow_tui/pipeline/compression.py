"""zstd stages: compress a dump into one standard .zst frame, and decompress it back.

The frame carries a content checksum, so `zstd -d` (and our own decompressor) notices
altered bytes; truncation is noticed by following the frame headers (see zstd_frames).
Memory is bounded on both sides: the compressor's window and buffers are fixed by its
level, and the decompressor writes its output in pieces of at most IO_SIZE and refuses a
frame that asks for a window over MAX_WINDOW_SIZE, whatever the input claims.
"""

from __future__ import annotations

from typing import IO, cast

import zstandard

from dflow_tui.pipeline.errors import DecompressionFailed
from dflow_tui.pipeline.streams import ChannelReader, ChannelWriter
from dflow_tui.pipeline.zstd_frames import FrameTracker

DEFAULT_LEVEL = 3
MIN_LEVEL, MAX_LEVEL = 1, 19
# Levels up to 19 use windows of at most 8 MiB; a frame wanting more is not ours.
MAX_WINDOW_SIZE = 16 << 20
IO_SIZE = 1 << 20
# zstd's own worker threads, beside the stage's thread. 0 = compress in the stage's thread.
# Measured on two cores: in a whole backup (tap, zstd, age, tap) the stages already keep both
# cores busy, so workers added no throughput but cost ~35 MiB more memory (job buffers).
# Worth raising only on a host with cores to spare when zstd is the slowest stage.
DEFAULT_WORKERS = 0


class ZstdCompress:
    """Compresses the stream into a single zstd frame with a content checksum."""

    name = "zstd-compress"

    def __init__(self, level: int = DEFAULT_LEVEL, *, workers: int = DEFAULT_WORKERS) -> None:
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise ValueError(f"zstd level must be from {MIN_LEVEL} to {MAX_LEVEL}, not {level}")
        self.level = level
        self.workers = workers

    def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        # Made here, so zstd's worker threads and buffers go away with the run, not with the plan.
        compressor = zstandard.ZstdCompressor(level=self.level, write_checksum=True, threads=self.workers)
        # The libraries only ever call read(n) and write(b): duck-typed file objects suffice.
        compressor.copy_stream(
            cast(IO[bytes], reader), cast(IO[bytes], writer), read_size=IO_SIZE, write_size=IO_SIZE
        )


class ZstdDecompress:
    """Decompresses one or more zstd frames; refuses damaged, foreign or cut-short input."""

    name = "zstd-decompress"

    def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        tracker = FrameTracker()
        decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_SIZE)
        decoder = decompressor.stream_writer(cast(IO[bytes], writer), write_size=IO_SIZE, closefd=False)
        try:
            for chunk in reader.chunks():
                tracker.feed(chunk)  # first: a foreign header is refused before zstd sees it
                decoder.write(chunk)
        except zstandard.ZstdError as exc:
            raise DecompressionFailed(_explain(exc)) from exc
        tracker.finish()


def _explain(error: zstandard.ZstdError) -> str:
    detail = str(error)
    if "too much memory" in detail:
        return (
            f"The compressed backup asks for a zstd window over {MAX_WINDOW_SIZE >> 20} MiB; "
            "refusing it (dflow-tui never writes such frames)"
        )
    if "checksum" in detail:
        return "The compressed backup is damaged: its zstd checksum does not match the decompressed data"
    return f"The compressed backup is damaged or not zstd data ({detail})"
