"""Stream a dump of unknown length into one S3 object with K parts in flight.

`upload_parts()` overlaps the legs: while up to K UploadPart calls run, the next part
is being filled from the stream. What it promises:

- Part size: planned by `plan_part_size()` / `part_size_for()` so that 10,000 parts
  cover the dump (growing every 1,000 parts for an unknown size).
- A dump smaller than one part goes up with a single PutObject (atomic); the
  multipart upload is only created once the first part is full.
- sha256 and size of the stored bytes are computed on the way, in a worker thread
  (`StreamHash`), overlapped with the uploads.
- Each request is retried by botocore's standard retries; a retry re-sends the same
  bytes under the same part number, so it is safe.
- ANY failure (the iterator raising, a part rejected, the endpoint going away,
  cancellation) cancels the parts in flight and aborts the multipart upload with
  multipart.py's abort (retried, confirmed with ListParts), then raises one clear
  sentence: `UploadAborted`, `UploadNotAborted` (naming the orphan), `StorageError`;
  the iterator's own `DflowError` and `CancelledError` go up unchanged.

Memory: at most K parts in flight plus the one being filled, plus the chunk being
cut, i.e. about (K + 1) x part size whatever the dump size. When the uploads are slow
the iterator is simply not advanced: backpressure reaches whoever feeds it.
A part is copied once, from the incoming chunks into its buffer; the buffer is then
sent as it is (`_PartBody`), never turned into `bytes` (that copy doubles the memory of
a part, and aiohttp on Python 3.11 makes two more of a bytes-like body: measured 1.8
extra part per part in flight for a bytearray body, 0.07 for `_PartBody`).

Integrity: every part carries a Content-MD5, computed in a thread. It is what many
S3-compatible providers check, and over HTTPS it is also what lets botocore send
UNSIGNED-PAYLOAD instead of hashing the whole body with sha256 on the event loop
(sha256 is 2-3x slower than MD5): the MD5 costs less than going without it.

The client's connection pool (`S3Client(max_pool_connections=...)`) must hold at
least K connections; `upload_parts()` refuses to start otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, cast

from dflow_tui.core.errors import DflowError
from dflow_tui.settings import DEFAULT_PARALLEL, MAX_PARALLEL
from dflow_tui.storage.errors import StorageError, UploadAborted, UploadNotAborted, error_code
from dflow_tui.storage.multipart import (
    DEFAULT_ABORT_TIMEOUT,
    MAX_OBJECT_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    S3_MIN_PART_SIZE,
    UploadResult,
    _abort_protected,
    _notify,
    _ReadFailed,
    capacity,
    part_size_for,
    plan_part_size,
)
from dflow_tui.storage.s3 import S3Client, _version, call_errors
from dflow_tui.storage.stream_hash import StreamHash

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)


OnProgress = Callable[[int, "int | None"], object]


async def upload_parts(
    client: S3Client,
    bucket: str,
    key: str,
    chunks: AsyncIterable[bytes],
    *,
    parallel: int = DEFAULT_PARALLEL,
    expected_size: int | None = None,
    min_part_size: int = MIN_PART_SIZE,
    on_progress: OnProgress | None = None,
    abort_timeout: float = DEFAULT_ABORT_TIMEOUT,
    content_type: str = "application/octet-stream",
) -> UploadResult:
    """Upload the bytes of `chunks` (in order, any chunk size) to `key`, `parallel` parts at a time.

    `on_progress(uploaded_bytes, expected_size)` is called (sync or async) after each
    part, with a total that only grows (parts may complete out of order).
    `min_part_size` exists for tests; S3 refuses parts under 5 MiB.

    The iterator is advanced from a task of its own (so that a failed part can stop
    a read that is waiting for data); it is not closed here, its owner closes it.
    """
    if not 1 <= parallel <= MAX_PARALLEL:
        raise ValueError(f"parallel must be between 1 and {MAX_PARALLEL}, not {parallel}")
    if min_part_size < S3_MIN_PART_SIZE:
        raise ValueError(f"min_part_size must be at least {S3_MIN_PART_SIZE} bytes (S3's minimum part size)")
    if expected_size is not None and expected_size > MAX_OBJECT_SIZE:
        raise StorageError(
            f"The dump ({expected_size} bytes) is larger than the 5 TiB maximum of an S3 object"
        )
    if client.max_pool_connections < parallel:
        raise ValueError(
            f"{parallel} parts in flight need an S3Client with max_pool_connections >= {parallel} "
            f"(it has {client.max_pool_connections})"
        )
    upload = _ParallelUpload(
        client,
        bucket,
        key,
        parallel=parallel,
        expected_size=expected_size,
        first_part_size=plan_part_size(expected_size, min_part_size),
        on_progress=on_progress,
        abort_timeout=abort_timeout,
        content_type=content_type,
    )
    return await upload.run(chunks)


class _PartBody(io.RawIOBase):
    """A read-only, seekable file over a part buffer, so the buffer goes out as it is.

    botocore accepts a file as Body (and seeks it back to 0 for a retry); aiohttp sends
    a file in 256 KiB reads with flow control, so no copy of the whole part is made
    on the way to the socket. Use it with `with`: aiohttp's last executor read keeps the
    file for a few milliseconds after the request, and closing lets go of the part then
    (measured: without it, one more part is alive at the peak).
    """

    def __init__(self, data: memoryview):
        super().__init__()
        self._data = data
        self._position = 0

    def close(self) -> None:
        self._data = memoryview(b"")
        super().close()

    def as_body(self) -> IO[bytes]:
        """This file as the stubs type a request body (they name typing.IO; a file is one)."""
        return cast("IO[bytes]", self)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._data)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def __len__(self) -> int:  # botocore's content-length probe
        return len(self._data) - self._position

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else min(len(self._data), self._position + size)
        piece = bytes(self._data[self._position : end])
        self._position = max(self._position, end)
        return piece

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:  # Any: typeshed says WriteableBuffer, a 3.12 name
        target = memoryview(buffer).cast("B")
        piece = self._data[self._position : self._position + len(target)]
        target[: len(piece)] = piece
        self._position += len(piece)
        return len(piece)


def _content_md5(holder: list[memoryview]) -> str:
    # The part comes in a list emptied here: the executor's work item keeps its arguments
    # until the thread drops it, possibly after the loop has moved on to the next part.
    digest = hashlib.md5(holder.pop(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


async def _part_md5(data: memoryview) -> str:
    """The part's Content-MD5, computed in a thread (20-50 ms per 8 MiB: not on the event loop)."""
    return await asyncio.to_thread(_content_md5, [data])


class _StepFailed(Exception):
    """`error` happened during `action` (an S3 operation name, or "read")."""

    def __init__(self, action: str, error: Exception):
        super().__init__(action, error)
        self.action = action
        self.error = error


@contextmanager
def _step(action: str) -> Iterator[None]:
    try:
        yield
    except _StepFailed:
        raise
    except Exception as exc:
        raise _StepFailed(action, exc) from exc


class _ParallelUpload:
    """The state of one upload: the stream read so far, the parts in flight, the upload id."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        *,
        parallel: int,
        expected_size: int | None,
        first_part_size: int,
        on_progress: OnProgress | None,
        abort_timeout: float,
        content_type: str,
    ):
        self.client = client
        self.bucket = bucket
        self.key = key
        self.parallel = parallel
        self.expected_size = expected_size
        self.first_part_size = first_part_size
        self.on_progress = on_progress
        self.abort_timeout = abort_timeout
        self.content_type = content_type
        self.size = 0  # bytes read from the stream
        self.uploaded = 0  # bytes of the parts stored so far
        self.upload_id: str | None = None
        self.etags: dict[int, str] = {}
        self.in_flight: set[asyncio.Task[None]] = set()
        self.stream_hash = StreamHash()
        self.creating: asyncio.Task[Any] | None = None
        self.part_failed: asyncio.Future[_StepFailed] = asyncio.get_running_loop().create_future()
        self.cancelled_meanwhile = False  # cancelled (again) while cleaning up after a failure

    # ------------------------------------------------------------------ the run

    async def run(self, chunks: AsyncIterable[bytes]) -> UploadResult:
        pipeline = asyncio.ensure_future(self._pipeline(chunks))
        try:
            try:
                # The pipeline may be waiting for the stream when a part fails: watch both.
                watched: set[asyncio.Future[Any]] = {pipeline, self.part_failed}
                await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                if pipeline.done():
                    return pipeline.result()
                failure: BaseException = self.part_failed.result()
            except BaseException as exc:
                failure = exc
            # Out of the except block, so that the exception raised below keeps its own context.
            # A cancellation arriving during this cleanup is held back until the upload is aborted.
            self.cancelled_meanwhile |= await _settle([pipeline, *self.in_flight])
            error, cause = await self._failed(failure)
            if self.cancelled_meanwhile and not isinstance(error, asyncio.CancelledError):
                raise asyncio.CancelledError()
            if cause is None:
                raise error
            raise error from cause
        finally:
            self.part_failed.cancel()
            self.stream_hash.close()

    async def _pipeline(self, chunks: AsyncIterable[bytes]) -> UploadResult:
        """Cut the stream into parts, send each to a task of its own, then complete."""
        number = 1
        target = part_size_for(number, self.first_part_size)
        buffer: bytearray | None = None  # allocated when its first byte arrives
        filled = 0
        iterator = aiter(chunks)
        while True:
            with _step("read"):
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    break
                except DflowError:
                    raise
                except Exception as exc:
                    raise _ReadFailed(f"{type(exc).__name__}: {exc}") from exc
            view = memoryview(chunk).cast("B")
            self.size += len(view)
            while view:
                if buffer is None:
                    buffer = bytearray(target)
                take = min(target - filled, len(view))
                buffer[filled : filled + take] = view[:take]
                filled += take
                view = view[take:]
                if filled == target:
                    await self._dispatch(number, memoryview(buffer))
                    number += 1
                    target = part_size_for(number, self.first_part_size)
                    buffer, filled = None, 0
            del view, chunk

        data = memoryview(buffer if buffer is not None else b"")[:filled]
        if self.upload_id is None:
            return await self._put_object(data)
        if filled:
            await self._dispatch(number, data)
        del data, buffer
        await self._wait_until_in_flight_at_most(0)
        with _step("CompleteMultipartUpload"):
            parts: list[CompletedPartTypeDef] = [
                {"PartNumber": n, "ETag": etag} for n, etag in sorted(self.etags.items())
            ]
            response = await self.client.raw.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
            )
            sha256 = await self.stream_hash.hexdigest()
        return UploadResult(self.size, sha256, _version(response.get("VersionId")), len(parts))

    async def _put_object(self, data: memoryview) -> UploadResult:
        """Smaller than one part: one atomic PutObject."""
        with _step("PutObject"):
            hashed = self.stream_hash.submit(data)
            md5 = await _part_md5(data)
            with _PartBody(data) as body:
                response = await self.client.within(
                    self.client.raw.put_object(
                        Bucket=self.bucket,
                        Key=self.key,
                        Body=body.as_body() if data else b"",
                        ContentLength=len(data),
                        ContentType=self.content_type,
                        ContentMD5=md5,
                    ),
                    action="PutObject",
                    bucket=self.bucket,
                    key=self.key,
                )
            await asyncio.shield(hashed)
            self.uploaded = self.size
            await _notify(self.on_progress, self.uploaded, self.expected_size)
            sha256 = await self.stream_hash.hexdigest()
        return UploadResult(self.size, sha256, _version(response.get("VersionId")), 0)

    # ----------------------------------------------------------------- the parts

    async def _dispatch(self, number: int, data: memoryview) -> None:
        """Start uploading part `number` once fewer than K parts are in flight."""
        if number > MAX_PARTS:
            raise StorageError(
                f"The dump is larger than {MAX_PARTS} parts can hold "
                f"({capacity(self.first_part_size)} bytes); S3 cannot store it as one object"
            )
        await self._wait_until_in_flight_at_most(self.parallel - 1)
        hashed = self.stream_hash.submit(data)  # in stream order: parts are dispatched in order
        if self.upload_id is None:
            await self._create()
        task = asyncio.ensure_future(self._send_part(number, data, hashed))
        self.in_flight.add(task)
        task.add_done_callback(self._part_done)

    async def _create(self) -> None:
        # Shielded: if we are cancelled while the request is out, the upload may exist on
        # the server; the failure path waits for the answer to learn its id and abort it.
        self.creating = asyncio.ensure_future(
            self.client.raw.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type
            )
        )
        with _step("CreateMultipartUpload"):
            response = await asyncio.shield(self.creating)
        self.upload_id = response["UploadId"]

    async def _send_part(self, number: int, data: memoryview, hashed: asyncio.Future[None]) -> None:
        with _step("UploadPart"):
            assert self.upload_id is not None  # parts are dispatched once it is known
            md5 = await _part_md5(data)
            with _PartBody(data) as body:
                response = await self.client.within(
                    self.client.raw.upload_part(
                        Bucket=self.bucket,
                        Key=self.key,
                        UploadId=self.upload_id,
                        PartNumber=number,
                        Body=body.as_body(),
                        ContentLength=len(data),
                        ContentMD5=md5,
                    ),
                    action="UploadPart",
                    bucket=self.bucket,
                    key=self.key,
                )
            self.etags[number] = response["ETag"]
            self.uploaded += len(data)
            await _notify(self.on_progress, self.uploaded, self.expected_size)
            await asyncio.shield(hashed)  # the part's memory counts until its sha256 is done too

    def _part_done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not self.part_failed.done():
            if not isinstance(error, _StepFailed):
                error = _StepFailed("UploadPart", error) if isinstance(error, Exception) else None
            if error is not None:
                self.part_failed.set_result(error)

    async def _wait_until_in_flight_at_most(self, count: int) -> None:
        while len(self.in_flight) > count:
            done, _ = await asyncio.wait(set(self.in_flight), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                self.in_flight.discard(task)
                if not task.cancelled() and (error := task.exception()) is not None:
                    raise error

    # --------------------------------------------------------------- the failure

    async def _failed(self, failure: BaseException) -> tuple[BaseException, BaseException | None]:
        """Abort what was started; the exception to raise, and its cause (None when it is
        the original exception, raised unchanged)."""
        action, error = (
            (failure.action, failure.error) if isinstance(failure, _StepFailed) else ("Upload", failure)
        )
        if self.upload_id is None and self.creating is not None:
            await self._learn_upload_id()
        reason = self.client.redact(self._reason(action, error))
        code = error_code(error)
        unchanged = isinstance(error, (DflowError, asyncio.CancelledError)) or not isinstance(
            error, Exception
        )

        if self.upload_id is None:
            return (error, None) if unchanged else (StorageError(reason, code=code), error)

        abort_error = await _abort_protected(
            self.client, self.bucket, self.key, self.upload_id, self.abort_timeout
        )
        if abort_error is not None:
            abort_reason = str(
                self.client.error(
                    abort_error, action="AbortMultipartUpload", bucket=self.bucket, key=self.key
                )
            )
            message = (
                f"{reason}; aborting the multipart upload {self.upload_id} failed too "
                f"({abort_reason}); it stays in the bucket until a cleanup aborts it"
            )
            log.warning("%s", message)
            if not isinstance(error, Exception):  # cancellation, KeyboardInterrupt
                return error, None
            return UploadNotAborted(message, upload_id=self.upload_id, code=code), error
        if unchanged:
            return error, None  # the stream's own DflowError, or cancellation
        aborted = f"{reason}; the multipart upload was aborted, nothing was left in the bucket"
        return UploadAborted(aborted, code=code), error

    async def _learn_upload_id(self) -> None:
        """A CreateMultipartUpload still out when the failure came may have created an upload."""
        assert self.creating is not None
        self.cancelled_meanwhile |= await _settle([self.creating], cancel=False, timeout=self.abort_timeout)
        if self.creating.done() and not self.creating.cancelled() and self.creating.exception() is None:
            self.upload_id = self.creating.result()["UploadId"]

    def _reason(self, action: str, error: BaseException) -> str:
        if isinstance(error, _ReadFailed):
            return f"Reading the dump failed after {self.size} bytes: {error}"
        if isinstance(error, DflowError):
            return str(error)
        if isinstance(error, call_errors()):
            return str(self.client.error(error, action=action, bucket=self.bucket, key=self.key))
        if isinstance(error, asyncio.CancelledError):
            return "The upload was cancelled"
        return f"{action} on s3://{self.bucket}/{self.key} failed: {type(error).__name__}: {error}"


async def _settle(
    tasks: list[asyncio.Future[Any]], *, cancel: bool = True, timeout: float | None = None
) -> bool:
    """Wait until `tasks` have ended (cancelling them first if `cancel`; a cancelled UploadPart
    closes its connection), at most `timeout` seconds (then they are cancelled), even if the
    caller is cancelled meanwhile: True if it was, for the caller to raise later."""
    if cancel:
        for task in tasks:
            task.cancel()
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    cancelled = False
    pending = {task for task in tasks if not task.done()}
    while pending:
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            for task in pending:
                task.cancel()
            deadline = None  # now wait for them to take the cancellation
            continue
        try:
            _, pending = await asyncio.wait(pending, timeout=remaining)
        except asyncio.CancelledError:
            cancelled = True
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: the failure that matters is already being handled
    return cancelled
