"""An endpoint that stalls — answers nothing, or drips a byte now and then — fails the
transfer after the idle timeout, instead of holding a backup or a restore forever."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dflow_tui.core.errors import DflowError
from dflow_tui.storage import S3Client, StorageConfig, download_stream
from dflow_tui.storage.upload import upload_parts


class StalledEndpoint:
    """A TCP server on 127.0.0.1 that reads requests; with `drip`, it answers headers for a
    large body and then sends one byte every 0.2 s; without, it never answers."""

    def __init__(self, drip: bool) -> None:
        self.drip = drip
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            if self.drip:
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\nETag: "x"\r\n\r\n')
                while True:
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(0.2)
            else:
                while await reader.read(65536):
                    pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


def _client(endpoint: str) -> S3Client:
    config = StorageConfig(
        endpoint_url=endpoint,
        region="us-east-1",
        bucket="stalled",
        access_key_id="AKIA",
        secret_access_key="secret",
    )
    return S3Client(config, max_attempts=1, idle_timeout=1.5)


async def test_an_upload_to_an_endpoint_that_never_answers_fails_after_the_idle_timeout():
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a small dump"

    async with StalledEndpoint(drip=False) as endpoint, _client(endpoint) as client:
        with pytest.raises(DflowError, match=r"PutObject on s3://stalled/k.dump made no progress for 1.5s"):
            await asyncio.wait_for(upload_parts(client, "stalled", "k.dump", chunks()), 30)


async def test_a_download_that_drips_fails_after_the_idle_timeout():
    async with StalledEndpoint(drip=True) as endpoint, _client(endpoint) as client:
        stream = await download_stream(client, "stalled", "k.dump")
        with pytest.raises(DflowError, match=r"GetObject on s3://stalled/k.dump made no progress for 1.5s"):
            async with stream:
                async for _chunk in stream:
                    pass
