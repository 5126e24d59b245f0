"""zstd stages: standard frames both ways, bounded memory, and no damaged or cut-short input accepted."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from infra.tools import find_program, missing

from dflow_tui.pipeline import DecompressionFailed, Stage, Tap, ZstdCompress, ZstdDecompress, run_pipeline
from dflow_tui.pipeline.compression import IO_SIZE, MAX_WINDOW_SIZE
from dflow_tui.pipeline.zstd_frames import FrameTracker

KiB = 1 << 10
MiB = 1 << 20


def sql_text(size: int, seed: int = 1) -> bytes:
    """Something like a plain-text dump: compressible, but not trivially."""
    rnd = random.Random(seed)
    names = ["anna", "bob", "chen", "dmitri", "eva", "farid", "gita", "hugo"]
    lines = ["COPY public.orders (id, customer, amount, status) FROM stdin;\n"]
    total = len(lines[0])
    number = 0
    while total < size:
        number += 1
        line = f"{number}\t{rnd.choice(names)} {rnd.randrange(10**6)}\t{rnd.randrange(10**7) / 100:.2f}\t{rnd.choice(['paid', 'open', 'refunded'])}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


async def run_stages(
    data: bytes, stages: Sequence[Stage], piece: int = 100 * KiB, chunk_size: int = MiB
) -> bytes:
    pieces = iter([data[i : i + piece] for i in range(0, len(data), piece)])

    async def source() -> bytes:
        return next(pieces, b"")

    async def collect(stream: AsyncIterator[bytes]) -> bytes:
        out = bytearray()
        async for chunk in stream:
            out += chunk
        return bytes(out)

    return await run_pipeline(source, stages, collect, chunk_size=chunk_size)


async def run_tool(args: list[str], data: bytes) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate(data)
    assert process.returncode == 0, err.decode()
    return out


@pytest.fixture(scope="module")
def zstd_program() -> Path:
    program = find_program("zstd")
    if program is None:
        missing("zstd (the command-line tool)", "apt-get install -y zstd")
    assert program is not None
    return program


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("kind", ["random", "text"])
async def test_round_trip(kind: str, workers: int) -> None:
    data = os.urandom(3 * MiB + 5) if kind == "random" else sql_text(4 * MiB)
    compressed = await run_stages(data, [ZstdCompress(workers=workers)])
    if kind == "text":
        assert len(compressed) < len(data) / 2
    assert await run_stages(compressed, [ZstdDecompress()]) == data


async def test_the_standard_zstd_tool_reads_our_frames(zstd_program: Path) -> None:
    data = sql_text(3 * MiB, seed=2)
    compressed = await run_stages(data, [ZstdCompress()])
    decoded = await run_tool([str(zstd_program), "-d", "-c", "-q"], compressed)
    assert decoded == data


async def test_we_read_the_standard_tools_frames_even_concatenated(zstd_program: Path) -> None:
    first, second = sql_text(MiB, seed=3), os.urandom(300 * KiB)
    frames = b"".join(
        [await run_tool([str(zstd_program), "-c", "-q", "-9"], part) for part in (first, second)]
    )
    assert await run_stages(frames, [ZstdDecompress()]) == first + second


async def test_output_is_one_frame_with_a_checksum() -> None:
    compressed = await run_stages(sql_text(MiB), [ZstdCompress()])
    parameters = zstandard.get_frame_parameters(compressed)
    assert parameters.has_checksum
    tracker = FrameTracker()
    tracker.feed(compressed)
    tracker.finish()
    assert tracker.frames == 1


async def test_cut_short_input_is_refused_at_any_point() -> None:
    compressed = await run_stages(sql_text(2 * MiB), [ZstdCompress()])
    for cut in (1, 5, 100, len(compressed) // 2, len(compressed) - 5, len(compressed) - 1):
        with pytest.raises(DecompressionFailed, match="incomplete"):
            await run_stages(compressed[:cut], [ZstdDecompress()])


async def test_damaged_input_is_refused() -> None:
    compressed = bytearray(await run_stages(sql_text(2 * MiB), [ZstdCompress()]))
    compressed[len(compressed) // 2] ^= 0x40
    with pytest.raises(DecompressionFailed, match="damaged"):
        await run_stages(bytes(compressed), [ZstdDecompress()])


async def test_foreign_or_empty_input_is_refused() -> None:
    with pytest.raises(DecompressionFailed, match="not zstd"):
        await run_stages(b"PGDMP\x01\x0e\x00" + os.urandom(1000), [ZstdDecompress()])
    with pytest.raises(DecompressionFailed, match="empty"):
        await run_stages(b"", [ZstdDecompress()])
    good = zstandard.ZstdCompressor().compress(b"hello")
    with pytest.raises(DecompressionFailed):
        await run_stages(good + b"trailing junk", [ZstdDecompress()])


async def test_a_frame_asking_for_a_huge_window_is_refused() -> None:
    parameters = zstandard.ZstdCompressionParameters.from_level(3, window_log=27)
    compressor = zstandard.ZstdCompressor(compression_params=parameters)
    chunker = compressor.chunker(chunk_size=64 * KiB)  # streamed: the header keeps the 128 MiB window
    frame = b"".join([*chunker.compress(b"x" * MiB), *chunker.finish()])
    assert MAX_WINDOW_SIZE < 1 << 27
    with pytest.raises(DecompressionFailed, match="window"):
        await run_stages(frame, [ZstdDecompress()])


async def test_a_decompression_bomb_comes_out_in_bounded_pieces() -> None:
    """A few KiB that expand to 128 MiB: streamed out piece by piece, never held whole."""
    compressor = zstandard.ZstdCompressor(level=19).compressobj()
    zeros = bytes(MiB)
    bomb = b"".join(compressor.compress(zeros) for _ in range(128)) + compressor.flush()
    assert len(bomb) < 64 * KiB
    pieces = iter([bomb])

    async def source() -> bytes:
        return next(pieces, b"")

    largest = 0

    async def drop(stream: AsyncIterator[bytes]) -> int:
        nonlocal largest
        total = 0
        async for chunk in stream:
            largest = max(largest, len(chunk))
            total += len(chunk)
        return total

    tracemalloc.start()
    try:
        total = await run_pipeline(source, [ZstdDecompress(), Tap()], drop)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 128 * MiB
    assert largest <= max(IO_SIZE, MiB)
    assert peak < 16 * MiB


@settings(max_examples=25, deadline=None)
@given(
    piece=st.integers(min_value=4 * KiB, max_value=300 * KiB),
    chunk_size=st.sampled_from([4 * KiB, 64 * KiB, MiB]),
    workers=st.sampled_from([0, 1]),
)
def test_chunk_boundaries_do_not_change_the_compressed_bytes(
    piece: int, chunk_size: int, workers: int
) -> None:
    data = SAMPLE
    reference = asyncio.run(run_stages(data, [ZstdCompress(workers=workers)], piece=len(data)))
    out = asyncio.run(run_stages(data, [ZstdCompress(workers=workers)], piece=piece, chunk_size=chunk_size))
    assert out == reference
    assert asyncio.run(run_stages(out, [ZstdDecompress()], piece=piece, chunk_size=chunk_size)) == data


SAMPLE = sql_text(400 * KiB, seed=9) + os.urandom(50 * KiB)


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=5000), max_size=30), frames=st.integers(1, 3))
def test_frame_tracker_follows_frames_whatever_the_cuts(cuts: list[int], frames: int) -> None:
    skippable = (0x184D2A53).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"12345"
    stream = b"".join(
        zstandard.ZstdCompressor(write_checksum=bool(index % 2)).compress(SAMPLE[: 20_000 * (index + 1)])
        + skippable
        for index in range(frames)
    )
    tracker = FrameTracker()
    position = 0
    for cut in cuts:
        tracker.feed(stream[position : position + cut])
        position += cut
    tracker.feed(stream[position:])
    tracker.finish()
    assert tracker.frames == frames
