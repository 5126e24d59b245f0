"""Read one S3 object with K ranged GETs in flight, yielded strictly in order.

    download = await download_parts(client, bucket, key, parallel=4)
    async with download:
        total = download.size
        async for chunk in download:
            ...
    download.sha256  # of what was yielded, once the iteration has ended

A single GetObject is bounded by one TCP stream; restoring a large dump from a distant
provider is faster with several. So the object is read in ranges of `part_size` bytes,
K at a time; the first range streams out as its bytes arrive, the next K - 1 fill
up meanwhile, and a new range starts each time one has been yielded. Memory: about
K x part_size (plus one part waiting to be hashed), whatever the object's size.

One object, not a mix: HeadObject gives the size, ETag and version, and every ranged
GET names that VersionId (versioned buckets) and carries If-Match on that ETag, and
its answer is checked against both. An object overwritten or deleted meanwhile makes
the download fail with one clear `StorageError`; so does a short read.

Stopping early (a `break`, or the consumer failing) inside `async with` cancels the
GETs in flight and closes their connections; use `async with`, or call `aclose()`.

Hashing: with `sha256=True` (the default) the sha256 of the yielded bytes is computed
in a worker thread, one part behind the consumer, and `expected_sha256` (if given) is
checked after the last byte: a mismatch raises instead of ending the iteration, so the
consumer must not commit what it received before the iteration ends normally.

The client's connection pool must hold at least K connections.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

from dflow_tui.settings import DEFAULT_PARALLEL, MAX_PARALLEL
from dflow_tui.storage.errors import StorageError, error_code
from dflow_tui.storage.multipart import MiB
from dflow_tui.storage.s3 import ObjectInfo, S3Client, _version, call_errors, head, read_full
from dflow_tui.storage.stream_hash import StreamHash

DEFAULT_PART_SIZE = 8 * MiB
READ_SIZE = 256 * 1024  # how much of a response is asked for at once

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


async def download_parts(
    client: S3Client,
    bucket: str,
    key: str,
    *,
    version_id: str | None = None,
    parallel: int = DEFAULT_PARALLEL,
    part_size: int = DEFAULT_PART_SIZE,
    sha256: bool = True,
    expected_sha256: str | None = None,
) -> ParallelDownload:
    """HeadObject `key` (or its `version_id`) and return the download, ready to iterate.

    Raises StorageError when the object does not exist or cannot be read.
    """
    if not 1 <= parallel <= MAX_PARALLEL:
        raise ValueError(f"parallel must be between 1 and {MAX_PARALLEL}, not {parallel}")
    if part_size < 1:
        raise ValueError(f"part_size must be at least 1 byte, not {part_size}")
    if expected_sha256 is not None and not sha256:
        raise ValueError("expected_sha256 needs sha256=True")
    if client.max_pool_connections < parallel:
        raise ValueError(
            f"{parallel} ranges in flight need an S3Client with max_pool_connections >= {parallel} "
            f"(it has {client.max_pool_connections})"
        )
    info = await head(client, bucket, key, version_id=version_id)
    if info is None:
        raise StorageError(
            f"HeadObject on s3://{bucket}/{key} failed: the object does not exist", code="NoSuchKey"
        )
    return ParallelDownload(
        client,
        bucket,
        info,
        parallel=parallel,
        part_size=part_size,
        sha256=sha256,
        expected_sha256=expected_sha256,
    )


class ParallelDownload:
    """The bytes of one object version, in order; iterate it once, inside `async with`."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        info: ObjectInfo,
        *,
        parallel: int,
        part_size: int,
        sha256: bool,
        expected_sha256: str | None,
    ):
        self.client = client
        self.bucket = bucket
        self.key = info.key
        self.size = info.size
        self.etag = info.etag
        self.version_id = info.version_id
        self.parallel = parallel
        self.part_size = part_size
        self.bytes_read = 0
        self.sha256: str | None = None  # set once every byte has been yielded (with sha256=True)
        self._hash = sha256
        self._expected_sha256 = expected_sha256
        self._iteration: AsyncGenerator[bytes, None] | None = None

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._iteration is not None:
            raise RuntimeError(f"The download of {self.where} can be iterated only once")
        self._iteration = self._chunks()
        return self._iteration

    async def aclose(self) -> None:
        """Stop: cancel the GETs in flight and close their connections."""
        if self._iteration is not None:
            await self._iteration.aclose()

    async def __aenter__(self) -> ParallelDownload:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        starts = iter(range(0, self.size, self.part_size))
        fetches: deque[_RangeFetch] = deque()
        stream_hash = StreamHash() if self._hash else None
        hashing: asyncio.Future[None] | None = None  # the previous part's

        def start_next() -> None:
            start = next(starts, None)
            if start is not None:
                fetches.append(_RangeFetch(self, start, min(start + self.part_size, self.size) - 1))

        try:
            for _ in range(self.parallel):
                start_next()
            while fetches:
                pieces: list[bytes] = []
                while chunk := await fetches[0].next_chunk():
                    self.bytes_read += len(chunk)
                    if stream_hash is not None:
                        pieces.append(chunk)
                    yield chunk
                    del chunk
                fetches.popleft()
                if stream_hash is not None:
                    if hashing is not None:
                        await asyncio.shield(hashing)  # one part behind at most: memory stays bounded
                    hashing = stream_hash.submit(*pieces)
                    del pieces
                start_next()
            if self.bytes_read != self.size:
                raise StorageError(
                    f"Download of {self.where} ended after {self.bytes_read} of {self.size} bytes"
                )
            if stream_hash is not None:
                self.sha256 = await stream_hash.hexdigest()
                if self._expected_sha256 is not None and self.sha256 != self._expected_sha256:
                    raise StorageError(
                        f"The sha256 of {self.where} is {self.sha256}, not the expected {self._expected_sha256}: "
                        "the object is damaged or is not the one recorded"
                    )
        finally:
            for fetch in fetches:
                fetch.task.cancel()
            await asyncio.gather(*(fetch.task for fetch in fetches), return_exceptions=True)
            if stream_hash is not None:
                stream_hash.close()


class _RangeFetch:
    """One ranged GET, in a task of its own; its chunks queue up until the consumer reaches them."""

    def __init__(self, download: ParallelDownload, first: int, last: int):
        self.download = download
        self.first = first
        self.last = last
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue()  # b"" at the end
        self.task = asyncio.ensure_future(self._run())

    async def next_chunk(self) -> bytes:
        """The next chunk of the range as it arrives; b"" at its end; the failure raised."""
        item = await self.queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def _run(self) -> None:
        try:
            await self._fetch()
        except Exception as exc:
            self.queue.put_nowait(exc)
        else:
            self.queue.put_nowait(b"")

    async def _fetch(self) -> None:
        from aiohttp import ClientPayloadError  # both loaded already: the client is open
        from botocore.exceptions import IncompleteReadError

        download = self.download
        params: dict[str, Any] = {"Range": f"bytes={self.first}-{self.last}"}
        if download.version_id is not None:
            params["VersionId"] = download.version_id
        if download.etag:
            params["IfMatch"] = download.etag
        try:
            response = await download.client.within(
                download.client.raw.get_object(Bucket=download.bucket, Key=download.key, **params),
                action="GetObject",
                bucket=download.bucket,
                key=download.key,
            )
        except call_errors() as exc:
            raise self._error(exc) from exc
        body = response["Body"]
        try:
            self._check_answer(response)
            received = 0
            while True:
                try:
                    # Read to the end (b""): a fully read response gives its connection back to the pool.
                    chunk = await download.client.within(
                        read_full(body, READ_SIZE),
                        action="GetObject",
                        bucket=download.bucket,
                        key=download.key,
                    )
                except (IncompleteReadError, ClientPayloadError):
                    break  # the body ended early (checked by botocore, or by aiohttp): said below
                except call_errors() as exc:
                    raise self._error(exc) from exc
                if not chunk:
                    break
                received += len(chunk)
                self.queue.put_nowait(chunk)
            if received != self.last - self.first + 1:
                raise StorageError(
                    f"Download of {download.where} ended after {self.first + received} of {download.size} bytes "
                    f"(the range {self.first}-{self.last} was cut short)"
                )
        finally:
            body.close()  # no-op once read to the end; else drops the connection

    def _check_answer(self, response: Mapping[str, Any]) -> None:
        """The answer must be the asked range of the pinned object, nothing else."""
        download = self.download
        expected = self.last - self.first + 1
        etag = response.get("ETag")
        version = _version(response.get("VersionId"))
        match = _CONTENT_RANGE.fullmatch(str(response.get("ContentRange") or ""))
        if (
            (download.etag and etag and etag != download.etag)
            or (download.version_id and version and version != download.version_id)
            or (match is not None and match.group(3) not in ("*", str(download.size)))
        ):
            raise self._changed()
        if match is None and not (self.first == 0 and expected == download.size):
            raise StorageError(
                f"GetObject on {download.where} ignored the byte range {self.first}-{self.last}"
            )
        length = int(response.get("ContentLength", -1))
        if length != expected or (
            match is not None and (int(match.group(1)), int(match.group(2))) != (self.first, self.last)
        ):
            raise StorageError(
                f"GetObject on {download.where} answered {length} bytes for the range {self.first}-{self.last}"
            )

    def _changed(self) -> StorageError:
        return StorageError(
            f"{self.download.where} changed during the download (it is no longer the version with ETag "
            f"{self.download.etag}); refusing to mix two objects",
            code="PreconditionFailed",
        )

    def _error(self, exc: BaseException) -> StorageError:
        code = error_code(exc)
        if code in ("PreconditionFailed", "412"):
            return self._changed()
        if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
            return StorageError(f"{self.download.where} was deleted during the download", code=code)
        return self.download.client.error(
            exc, action="GetObject", bucket=self.download.bucket, key=self.download.key
        )
