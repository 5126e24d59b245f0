"""Running a source, stages and a sink side by side, joined by bounded channels.

Each stage gets a thread of its own (not the loop's default executor: a stage lives as long
as the transfer, and holding executor workers that long would starve the keyring and
database calls that share them). The source and the sink stay coroutines on the caller's
loop, because the SSH and S3 clients belong to it. Memory is bounded by the channels: at
most `depth` chunks wait between two neighbours, whatever the size of the data.

The first failure anywhere wins: every channel is aborted (which wakes and stops the stage
threads), the source and sink tasks are cancelled, everything is waited for, and the
failure is raised as it was. Nothing is left running or blocked afterwards, also when the
caller itself is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from dflow_tui.pipeline.channel import Channel
from dflow_tui.pipeline.errors import PipelineBroken
from dflow_tui.pipeline.stage import Stage
from dflow_tui.pipeline.streams import ChannelReader, ChannelWriter

T = TypeVar("T")

DEFAULT_DEPTH = 2
DEFAULT_CHUNK_SIZE = 1 << 20

Source = Callable[[], Awaitable[bytes]]
"""Gives the next chunk of the data each time it is awaited, b"" at the end."""


class ChannelChunks:
    """What the sink iterates: the last channel's chunks until the end of the data."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def __aiter__(self) -> ChannelChunks:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._channel.get_async()
        if not chunk:
            raise StopAsyncIteration
        return chunk


async def run_pipeline(
    source: Source,
    stages: Sequence[Stage],
    sink: Callable[[AsyncIterator[bytes]], Awaitable[T]],
    *,
    depth: int = DEFAULT_DEPTH,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> T:
    """Stream source -> stages -> sink and return what the sink returned.

    Data moves in chunks of about `chunk_size` (the source's small chunks are gathered, a
    larger one passes as it is), and `depth` chunks may wait in each channel. The sink must
    read to the end: one that returns early fails the run with PipelineBroken.
    """
    loop = asyncio.get_running_loop()
    channels = [Channel(depth, loop) for _ in range(len(stages) + 1)]
    tasks: list[asyncio.Task[Any]] = []
    threads: list[_StageThread] = []
    try:
        tasks.append(loop.create_task(_feed(source, channels[0], chunk_size), name="pipeline-source"))
        for stage, inbox, outbox in zip(stages, channels, channels[1:], strict=False):
            threads.append(_StageThread(stage, inbox, outbox, chunk_size, loop))
        sink_task = loop.create_task(_drain(sink, channels[-1]), name="pipeline-sink")
        tasks.append(sink_task)
        await _all_or_first_failure([tasks[0], *(thread.done for thread in threads), sink_task])
    except BaseException:
        for channel in channels:
            channel.abort()
        for task in tasks:
            task.cancel()
        if await settle([*tasks, *(thread.done for thread in threads)]):
            raise asyncio.CancelledError() from None
        raise
    finally:
        for thread in threads:
            thread.join()
    return sink_task.result()


async def _feed(source: Source, channel: Channel, chunk_size: int) -> None:
    """Hands the source's data on in chunks of about `chunk_size`.

    An SSH channel gives 32-64 KiB at a time; every chunk costs a thread wake-up per stage, so
    gathering them first cuts that cost by 16-32 for one copy, and keeps `depth` meaning bytes.
    """
    pending = bytearray()
    while chunk := await source():
        if not pending and len(chunk) >= chunk_size:
            await channel.put_async(chunk)
            continue
        pending += chunk
        if len(pending) >= chunk_size:
            await channel.put_async(bytes(pending))
            pending.clear()
    if pending:
        await channel.put_async(bytes(pending))
    channel.end()


async def _drain(sink: Callable[[AsyncIterator[bytes]], Awaitable[T]], channel: Channel) -> T:
    result = await sink(ChannelChunks(channel))
    if await channel.get_async():
        raise PipelineBroken("The destination stopped reading before the end of the data")
    return result


class _StageThread:
    """A stage running in a new thread; `done` settles (on the loop) when the thread is about to end."""

    def __init__(
        self, stage: Stage, inbox: Channel, outbox: Channel, chunk_size: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._stage = stage
        self._inbox = inbox
        self._outbox = outbox
        self._chunk_size = chunk_size
        self._loop = loop
        self.done: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(target=self._body, name=f"pipeline-{stage.name}", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Only called once `done` settled, when the thread has nothing left to do: this returns at once."""
        self._thread.join()

    def _body(self) -> None:
        error: BaseException | None = None
        try:
            reader = ChannelReader(self._inbox)
            writer = ChannelWriter(self._outbox, self._chunk_size)
            self._stage.run(reader, writer)
            if not reader.at_end and reader.read(1):
                raise PipelineBroken(f"The {self._stage.name} stage stopped before the end of its input")
            writer.finish()
        except BaseException as exc:  # handed to the loop, which decides what to raise
            error = exc
        # A closed loop means nobody is waiting for this stage any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._report, error)

    def _report(self, error: BaseException | None) -> None:
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


async def _all_or_first_failure(futures: list[asyncio.Future[Any]]) -> None:
    """Return when all succeeded; raise the first failure as it is (the most upstream on a tie)."""
    pending = set(futures)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for future in futures:
            if future in done and (future.cancelled() or future.exception() is not None):
                future.result()


async def settle(futures: Sequence[asyncio.Future[Any]], *, cancel_pending: bool = False) -> bool:
    """Wait until every task and thread has ended; tell whether the caller was cancelled meanwhile.

    A cancellation while settling is held back until the threads are gone: returning early
    would leave them running. With `cancel_pending`, it is passed on to the tasks still
    running (ones that stop early and clean up, as an upload aborts itself).
    """
    cancelled = False
    pending = {future for future in futures if not future.done()}
    while pending:
        try:
            _, pending = await asyncio.wait(pending)
        except asyncio.CancelledError:
            cancelled = True
            if cancel_pending:
                for future in pending:
                    future.cancel()
    for future in futures:
        if not future.cancelled():
            future.exception()  # retrieved: the secondary failures are consequences, not news
    return cancelled
