"""A TCP proxy in the test's own event loop that can cut every answer short.

Between a client and a real endpoint (moto): with `cut_after` set, each connection's
answer is closed after that many bytes, cleanly (FIN), as a broken middlebox or a
dropped link does halfway through a response body.

    async with CuttingProxy(("127.0.0.1", moto_port), cut_after=200_000) as proxy:
        ... endpoint_url=proxy.url ...
"""

from __future__ import annotations

import asyncio
import contextlib

READ_SIZE = 64 * 1024


class CuttingProxy:
    def __init__(self, target: tuple[str, int], *, cut_after: int | None = None) -> None:
        self.target = target
        self.cut_after = cut_after
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()  # every task of the proxy's own
        self._writers: set[asyncio.StreamWriter] = set()

        self.url = ""

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # ends every pump with its connection
            writer.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self._writers.add(client_writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.add(upstream_writer)
        forward = asyncio.ensure_future(self._pump(client_reader, upstream_writer, None))
        self.tasks.add(forward)
        try:
            await self._pump(upstream_reader, client_writer, self.cut_after)
            client_writer.close()
            upstream_writer.close()
            await asyncio.gather(forward, return_exceptions=True)
        finally:
            for writer in (client_writer, upstream_writer):
                writer.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()
            self.tasks.discard(task)
            self.tasks.discard(forward)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int | None
    ) -> None:
        sent = 0
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(READ_SIZE):
                if limit is not None and sent + len(data) >= limit:
                    writer.write(data[: limit - sent])
                    await writer.drain()
                    self.cuts += 1
                    return
                sent += len(data)
                writer.write(data)
                await writer.drain()
