"""The pipeline runner: stages side by side, bounded memory, and the first failure stops everything."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dflow_tui.core.errors import DflowError
from dflow_tui.pipeline import PipelineBroken, Tap, run_pipeline
from dflow_tui.pipeline.channel import Channel
from dflow_tui.pipeline.errors import PipelineStopped
from dflow_tui.pipeline.streams import ChannelReader, ChannelWriter

KiB = 1 << 10
MiB = 1 << 20


class Boom(DflowError):
    pass


def chunks_source(chunks: list[bytes]) -> Callable[[], Awaitable[bytes]]:
    remaining = iter(chunks)

    async def source() -> bytes:
        return next(remaining, b"")

    return source


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    out = bytearray()
    async for chunk in stream:
        out += chunk
    return bytes(out)


class Upper:
    """A stage that changes the bytes, to see them pass through in order."""

    name = "upper"

    def __init__(self, read_size: int = 64 * KiB) -> None:
        self.read_size = read_size

    def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        while piece := reader.read(self.read_size):
            writer.write(piece.upper())


class FailAfter:
    """Reads `limit` bytes, then fails like a stage meeting bad data."""

    name = "fail-after"

    def __init__(self, limit: int, error: BaseException) -> None:
        self.limit = limit
        self.error = error

    def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        seen = 0
        for chunk in reader.chunks():
            seen += len(chunk)
            writer.write(chunk)
            if seen >= self.limit:
                raise self.error


class StopsEarly:
    name = "stops-early"

    def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        writer.write(reader.read(10))


def pipeline_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("pipeline-")]


def other_tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


def assert_nothing_left() -> None:
    assert pipeline_threads() == []
    assert other_tasks() == set()


def endless_source(chunk: bytes, counter: list[int]) -> Callable[[], Awaitable[bytes]]:
    async def source() -> bytes:
        counter[0] += len(chunk)
        await asyncio.sleep(0)
        return chunk

    return source


async def test_bytes_pass_through_every_stage_in_order() -> None:
    data = os.urandom(3 * MiB + 17)
    chunks = [data[i : i + 70_000] for i in range(0, len(data), 70_000)]
    first, last = Tap("first"), Tap("last")
    out = await run_pipeline(
        chunks_source(chunks), [first, Upper(read_size=1000), last], collect, chunk_size=256 * KiB
    )
    assert out == data.upper()
    assert (first.size, first.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert (last.size, last.sha256) == (len(data), hashlib.sha256(data.upper()).hexdigest())
    assert_nothing_left()


async def test_empty_input_and_no_stages() -> None:
    tap = Tap()
    assert await run_pipeline(chunks_source([]), [tap], collect) == b""
    assert (tap.size, tap.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert await run_pipeline(chunks_source([b"abc", b"def"]), [], collect) == b"abcdef"
    assert_nothing_left()


async def test_tap_figures_are_refused_before_the_end() -> None:
    with pytest.raises(RuntimeError, match="has not seen the end"):
        _ = Tap().sha256


async def test_a_failing_source_is_raised_as_it_is_and_leaves_nothing_running() -> None:
    error = Boom("The export stopped: dokku said no")
    produced = [0]
    inner = endless_source(os.urandom(64 * KiB), produced)

    async def source() -> bytes:
        if produced[0] > 2 * MiB:
            raise error
        return await inner()

    sink_saw_end = False

    async def sink(stream: AsyncIterator[bytes]) -> None:
        nonlocal sink_saw_end
        async for _ in stream:
            pass
        sink_saw_end = True

    with pytest.raises(Boom) as raised:
        await run_pipeline(source, [Tap(), Upper(), Tap()], sink)
    assert raised.value is error
    assert not sink_saw_end, "a failed run must never look complete to the sink"
    assert_nothing_left()


async def test_a_failing_stage_is_raised_and_the_sink_never_sees_an_end() -> None:
    error = Boom("The compressed backup is damaged")
    produced = [0]
    sink_saw_end = False

    async def sink(stream: AsyncIterator[bytes]) -> None:
        nonlocal sink_saw_end
        async for _ in stream:
            pass
        sink_saw_end = True

    with pytest.raises(Boom) as raised:
        await run_pipeline(
            endless_source(os.urandom(64 * KiB), produced), [Tap(), FailAfter(MiB, error), Tap()], sink
        )
    assert raised.value is error
    assert not sink_saw_end
    assert_nothing_left()


async def test_a_bug_in_a_stage_is_raised_too() -> None:
    with pytest.raises(ZeroDivisionError):
        await run_pipeline(
            endless_source(b"x" * KiB, [0]), [FailAfter(10 * KiB, ZeroDivisionError("bug"))], collect
        )
    assert_nothing_left()


async def test_a_failing_sink_stops_source_and_stages() -> None:
    error = Boom("The upload was refused")

    async def sink(stream: AsyncIterator[bytes]) -> None:
        received = 0
        async for chunk in stream:
            received += len(chunk)
            if received > MiB:
                raise error

    with pytest.raises(Boom) as raised:
        await run_pipeline(endless_source(os.urandom(64 * KiB), [0]), [Tap(), Upper()], sink)
    assert raised.value is error
    assert_nothing_left()


async def test_a_stage_or_sink_that_stops_reading_early_is_a_broken_pipeline() -> None:
    data = [b"x" * (64 * KiB)] * 8
    with pytest.raises(PipelineBroken, match="stops-early stage stopped before the end"):
        await run_pipeline(chunks_source(data), [StopsEarly()], collect)

    async def takes_one(stream: AsyncIterator[bytes]) -> bytes:
        async for chunk in stream:
            return chunk
        return b""

    with pytest.raises(PipelineBroken, match="destination stopped reading"):
        await run_pipeline(chunks_source(data), [Tap()], takes_one, chunk_size=64 * KiB)
    assert_nothing_left()


async def test_cancelling_the_caller_stops_every_stage() -> None:
    produced = [0]
    consumed = 0

    async def slow_sink(stream: AsyncIterator[bytes]) -> None:
        nonlocal consumed
        async for chunk in stream:
            consumed += len(chunk)
            await asyncio.sleep(0.001)

    run = asyncio.create_task(
        run_pipeline(endless_source(os.urandom(64 * KiB), produced), [Tap(), Upper(), Tap()], slow_sink)
    )
    while consumed < 2 * MiB:
        await asyncio.sleep(0.01)
    assert pipeline_threads(), "the stages run in their own threads"
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert_nothing_left()
    stopped_at = produced[0]
    await asyncio.sleep(0.05)
    assert produced[0] == stopped_at, "the source is no longer read"


async def test_a_slow_sink_holds_the_source_back() -> None:
    """Backpressure: the source is never read more than a few chunks ahead of the sink."""
    chunk = 64 * KiB
    produced = [0]
    ahead: list[int] = []

    async def slow_sink(stream: AsyncIterator[bytes]) -> None:
        consumed = 0
        async for piece in stream:
            consumed += len(piece)
            await asyncio.sleep(0.002)
            ahead.append(produced[0] - consumed)
            if consumed >= 200 * chunk:
                raise Boom("enough")

    with pytest.raises(Boom):
        await run_pipeline(
            endless_source(os.urandom(chunk), produced),
            [Tap(), Upper()],
            slow_sink,
            depth=2,
            chunk_size=chunk,
        )
    # 3 channels of 2 chunks, a chunk in the hands of each stage (read and gathered), one at the source.
    assert max(ahead) <= 12 * chunk
    assert produced[0] < 220 * chunk
    assert_nothing_left()


async def test_memory_stays_bounded_whatever_the_size() -> None:
    total = 64 * MiB
    chunk = 256 * KiB
    block = os.urandom(chunk)
    produced = 0

    async def source() -> bytes:
        nonlocal produced
        if produced >= total:
            return b""
        produced += chunk
        return bytes(block)  # a fresh object each time, as a socket read gives

    async def drop(stream: AsyncIterator[bytes]) -> int:
        size = 0
        async for piece in stream:
            size += len(piece)
        return size

    tracemalloc.start()
    try:
        size = await run_pipeline(source, [Tap(), Upper(), Tap()], drop, chunk_size=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == total
    assert peak < 20 * MiB, f"peak {peak / MiB:.1f} MiB for {total / MiB:.0f} MiB of data"


async def test_the_event_loop_stays_responsive() -> None:
    """The CPU work is in the stage threads: a timer on the loop keeps firing on time."""
    data = [os.urandom(MiB) for _ in range(48)]
    late: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            late.append(time.perf_counter() - start - 0.005)

    ticking = asyncio.create_task(ticker())
    await run_pipeline(chunks_source(data), [Tap(), Upper(), Tap()], collect)
    done.set()
    await ticking
    assert late and max(late) < 0.5


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=5000),
    cuts=st.lists(st.integers(min_value=1, max_value=700), max_size=40),
    reads=st.lists(st.integers(min_value=1, max_value=900), min_size=1, max_size=20),
    chunk_size=st.integers(min_value=1, max_value=2000),
)
def test_reader_and_writer_keep_the_bytes_whatever_the_chunking(
    data: bytes, cuts: list[int], reads: list[int], chunk_size: int
) -> None:
    """However the source cuts the data and however a stage reads and writes it, the bytes are the same."""
    pieces: list[bytes] = []
    position = 0
    for cut in cuts:
        pieces.append(data[position : position + cut])
        position += cut
    pieces.append(data[position:])
    pieces = [piece for piece in pieces if piece]

    class OddReads:
        name = "odd-reads"

        def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
            turn = 0
            while piece := reader.read(reads[turn % len(reads)]):
                writer.write(piece)
                turn += 1

    out = asyncio.run(
        run_pipeline(chunks_source(pieces), [OddReads(), Tap()], collect, chunk_size=chunk_size)
    )
    assert out == data


async def test_channel_refuses_everything_once_aborted() -> None:
    channel = Channel(2, asyncio.get_running_loop())
    await channel.put_async(b"a")
    channel.abort()
    with pytest.raises(PipelineStopped):
        await channel.get_async()
    with pytest.raises(PipelineStopped):
        channel.put(b"b")
