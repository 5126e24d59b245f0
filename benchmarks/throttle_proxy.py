"""A TCP proxy that caps EACH connection at a rate, in each direction: how one S3/B2 stream behaves.

A real object store gives one TCP stream a bounded rate (latency, per-stream window,
per-connection shaping) while parallel streams each get their own. This proxy models
exactly that and nothing else: every accepted connection gets two token buckets (one
per direction) refilled at `--rate` MiB/s; N parallel connections can move N times the
rate. Run it in its own process so that its CPU is not ours:

    python -m benchmarks.throttle_proxy --listen 127.0.0.1:9001 --target 127.0.0.1:9000 --rate 16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time

MiB = 1024 * 1024
READ_SIZE = 256 * 1024
BURST = 256 * 1024


class TokenBucket:
    """`rate` bytes a second, at most `burst` saved up; a take larger than what is there waits."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    async def take(self, count: int) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= count
        if self.tokens < 0:
            await asyncio.sleep(-self.tokens / self.rate)


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, bucket: TokenBucket) -> None:
    """Copy one direction until EOF, then half-close the other side."""
    try:
        while data := await reader.read(READ_SIZE):
            await bucket.take(len(data))
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def serve_connection(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    target: tuple[str, int],
    rate: float,
) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(*target, limit=READ_SIZE * 4)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            pump(client_reader, upstream_writer, TokenBucket(rate, BURST)),
            pump(upstream_reader, client_writer, TokenBucket(rate, BURST)),
        )
    finally:
        for writer in (client_writer, upstream_writer):
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", type=address, required=True, help="HOST:PORT to accept on")
    parser.add_argument("--target", type=address, required=True, help="HOST:PORT to forward to")
    parser.add_argument("--rate", type=float, default=16.0, help="MiB/s per connection and direction")
    options = parser.parse_args()
    rate = options.rate * MiB

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(reader, writer, options.target, rate)

    server = await asyncio.start_server(handle, *options.listen, limit=READ_SIZE * 4)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
