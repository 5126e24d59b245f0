"""Following zstd frame and block headers, to notice a compressed stream that was cut short.

python-zstandard's streaming decompressors treat the end of their input in the middle of a
frame as a normal end, so a truncated object would decompress "successfully" into a shorter
dump. Reading only the headers (RFC 8878: frame header, 3-byte block headers, optional
checksum, skippable frames) tells whether the input stopped exactly at the end of a frame,
at a cost of a few operations per 128 KiB block.
"""

from __future__ import annotations

from enum import Enum, auto

from dflow_tui.pipeline.errors import DecompressionFailed

ZSTD_MAGIC = 0xFD2FB528
SKIPPABLE_MAGIC_MASK = 0xFFFFFFF0
SKIPPABLE_MAGIC = 0x184D2A50
_BLOCK_RAW, _BLOCK_RLE, _BLOCK_COMPRESSED, _BLOCK_RESERVED = 0, 1, 2, 3

NOT_ZSTD = "The backup is not zstd-compressed data, or it was damaged"
CUT_SHORT = "The compressed backup is incomplete (it ends in the middle of a zstd frame)"
EMPTY = "The compressed backup is empty (it holds no zstd frame)"


class _Expect(Enum):
    MAGIC = auto()
    FRAME_DESCRIPTOR = auto()
    FRAME_HEADER_REST = auto()
    BLOCK_HEADER = auto()
    CHECKSUM = auto()
    SKIPPABLE_SIZE = auto()


class FrameTracker:
    """Fed the compressed bytes in order; `finish()` raises unless they ended on a frame boundary."""

    def __init__(self) -> None:
        self._expect = _Expect.MAGIC
        self._want = 4
        self._header = bytearray()
        self._skip = 0
        self._has_checksum = False
        self.frames = 0

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        position, end = 0, len(view)
        while position < end:
            if self._skip:
                step = min(self._skip, end - position)
                self._skip -= step
                position += step
                continue
            take = min(self._want - len(self._header), end - position)
            self._header += view[position : position + take]
            position += take
            if len(self._header) == self._want:
                header = bytes(self._header)
                self._header.clear()
                self._on_header(header)

    def finish(self) -> None:
        at_boundary = self._expect is _Expect.MAGIC and not self._header and not self._skip
        if not at_boundary:
            raise DecompressionFailed(CUT_SHORT)
        if self.frames == 0:
            raise DecompressionFailed(EMPTY)

    def _next(self, expect: _Expect, want: int) -> None:
        self._expect, self._want = expect, want

    def _on_header(self, header: bytes) -> None:
        value = int.from_bytes(header, "little")
        if self._expect is _Expect.MAGIC:
            if value == ZSTD_MAGIC:
                self._next(_Expect.FRAME_DESCRIPTOR, 1)
            elif value & SKIPPABLE_MAGIC_MASK == SKIPPABLE_MAGIC:
                self._next(_Expect.SKIPPABLE_SIZE, 4)
            else:
                raise DecompressionFailed(NOT_ZSTD)
        elif self._expect is _Expect.FRAME_DESCRIPTOR:
            rest = _frame_header_rest(value)
            self._has_checksum = bool(value & 0x04)
            if rest:
                self._next(_Expect.FRAME_HEADER_REST, rest)
            else:
                self._next(_Expect.BLOCK_HEADER, 3)
        elif self._expect is _Expect.FRAME_HEADER_REST:
            self._next(_Expect.BLOCK_HEADER, 3)
        elif self._expect is _Expect.BLOCK_HEADER:
            self._on_block_header(value)
        elif self._expect is _Expect.CHECKSUM:
            self._end_frame()
        else:  # SKIPPABLE_SIZE
            self._skip = value
            self._next(_Expect.MAGIC, 4)

    def _on_block_header(self, value: int) -> None:
        last, kind, size = value & 1, (value >> 1) & 3, value >> 3
        if kind == _BLOCK_RESERVED:
            raise DecompressionFailed(NOT_ZSTD)
        self._skip = 1 if kind == _BLOCK_RLE else size
        if not last:
            self._next(_Expect.BLOCK_HEADER, 3)
        elif self._has_checksum:
            self._next(_Expect.CHECKSUM, 4)
        else:
            self._end_frame()

    def _end_frame(self) -> None:
        self.frames += 1
        self._next(_Expect.MAGIC, 4)


def _frame_header_rest(descriptor: int) -> int:
    """Bytes of the frame header after its descriptor: window descriptor, dictionary id, content size."""
    content_size_flag = descriptor >> 6
    single_segment = bool(descriptor & 0x20)
    dictionary_id_size = (0, 1, 2, 4)[descriptor & 0x03]
    window_descriptor_size = 0 if single_segment else 1
    content_size_size = (1 if single_segment else 0, 2, 4, 8)[content_size_flag]
    return window_descriptor_size + dictionary_id_size + content_size_size
