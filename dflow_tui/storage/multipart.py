"""Stream a dump of unknown length into one S3 object, with bounded memory.

`upload_stream()` reads chunks from an async callable (the stdout of
`dokku <engine>:export` over SSH, for instance), hashes them (sha256) and counts
them on the way, and uploads them part by part:

- Memory: one part buffer at a time (plus the chunk being read). The buffer is
  handed to UploadPart as it is, then dropped; nothing else is kept.
- Part size: at least 8 MiB, and at least `expected_size / 10,000` (rounded up
  to a MiB) so that 10,000 parts cover the dump. Whatever the start size, the part
  size doubles every 1,000 parts (capped at 5 GiB), so an unknown or
  underestimated dump still fits in 10,000 parts up to about 8 TiB at the 8 MiB
  start (over the 5 TiB S3 object limit).
- A dump smaller than one part is sent with a single PutObject (atomic: there is
  no multipart upload to leave behind). The multipart upload is only created once
  the first part is full.
- Retries: each request (UploadPart included) is retried on 5xx, throttling and
  connection errors by botocore's "standard" retry mode, with backoff and
  jitter; a retry re-sends the same in-memory part under the same part number,
  which simply replaces it, so retrying is safe.
- Any failure once the multipart upload exists — `read_chunk` raising, an S3
  error, cancellation — aborts it (retrying the abort for up to `abort_timeout`
  seconds, and checking that no part survived it) before the error goes up. No
  partial object is ever created (an object only appears on
  CompleteMultipartUpload), and no orphaned upload remains unless the endpoint
  stays unreachable for the whole abort window; then `UploadNotAborted` names the
  upload, and `doctor --fix` (abort_uploads_of) removes it later.

Errors raised: a `DflowError` raised by `read_chunk` goes up unchanged (after the
abort); any other failure becomes an `UploadAborted` / `StorageError` /
`UploadNotAborted` with one clear sentence. Cancellation stays a
`CancelledError` (after the abort), so task cancellation and `asyncio.timeout()`
keep working.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dflow_tui.core.errors import DflowError
from dflow_tui.storage.errors import (
    StorageError,
    UploadAborted,
    UploadNotAborted,
    error_code,
    is_connection_error,
)
from dflow_tui.storage.s3 import S3Client, _version, call_errors

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

MiB = 1024 * 1024
GiB = 1024 * MiB
TiB = 1024 * GiB

S3_MIN_PART_SIZE = 5 * MiB  # every part but the last (S3 and moto enforce it)
MIN_PART_SIZE = 8 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * TiB
GROWTH_EVERY_PARTS = 1_000
DEFAULT_ABORT_TIMEOUT = 120.0

ReadChunk = Callable[[], Awaitable[bytes]]
OnProgress = Callable[[int, "int | None"], Any]


@dataclass(frozen=True)
class UploadResult:
    size: int
    sha256: str
    version_id: str | None
    part_count: int  # 0 when the dump went up with a single PutObject


def plan_part_size(expected_size: int | None, min_part_size: int = MIN_PART_SIZE) -> int:
    """The first part's size: `min_part_size`, grown so 10,000 parts cover `expected_size`."""
    size = min_part_size
    if expected_size:
        needed = -(-expected_size // MAX_PARTS)  # ceil
        needed = -(-needed // MiB) * MiB  # whole MiB
        size = max(size, needed)
    return min(size, MAX_PART_SIZE)


def part_size_for(part_number: int, first_part_size: int) -> int:
    """Size of part `part_number` (1-based): doubles every 1,000 parts, at most 5 GiB."""
    return min(first_part_size << ((part_number - 1) // GROWTH_EVERY_PARTS), MAX_PART_SIZE)


def capacity(first_part_size: int) -> int:
    """How many bytes 10,000 parts hold with this first part size."""
    return (
        sum(part_size_for(n, first_part_size) for n in range(1, MAX_PARTS + 1, GROWTH_EVERY_PARTS))
        * GROWTH_EVERY_PARTS
    )


async def _notify(on_progress: OnProgress | None, done: int, expected: int | None) -> None:
    if on_progress is None:
        return
    result = on_progress(done, expected)
    if inspect.isawaitable(result):
        await result


class _ReadFailed(Exception):
    """Wraps a non-DflowError raised by read_chunk, to tell it from S3 errors."""


async def upload_stream(
    client: S3Client,
    bucket: str,
    key: str,
    read_chunk: ReadChunk,
    expected_size: int | None = None,
    on_progress: OnProgress | None = None,
    *,
    min_part_size: int = MIN_PART_SIZE,
    content_type: str = "application/octet-stream",
    abort_timeout: float = DEFAULT_ABORT_TIMEOUT,
) -> UploadResult:
    """Upload everything `read_chunk()` returns (until it returns b'') to `key`.

    `on_progress(uploaded_bytes, expected_size)` is called (sync or async) after
    each part. `min_part_size` exists for tests; S3 refuses parts under 5 MiB.
    """
    if min_part_size < S3_MIN_PART_SIZE:
        raise ValueError(f"min_part_size must be at least {S3_MIN_PART_SIZE} bytes (S3's minimum part size)")
    if expected_size is not None and expected_size > MAX_OBJECT_SIZE:
        raise StorageError(
            f"The dump ({expected_size} bytes) is larger than the 5 TiB maximum of an S3 object"
        )
    first_part_size = plan_part_size(expected_size, min_part_size)
    hasher = hashlib.sha256()
    size = 0
    uploaded = 0
    upload_id: str | None = None
    parts: list[CompletedPartTypeDef] = []
    part_number = 1
    target = part_size_for(part_number, first_part_size)
    buffer = bytearray()
    action = "CreateMultipartUpload"

    async def send_part(data: bytearray) -> None:
        nonlocal upload_id, part_number, target, uploaded, action
        if part_number > MAX_PARTS:
            raise StorageError(
                f"The dump is larger than {MAX_PARTS} parts can hold "
                f"({capacity(first_part_size)} bytes); S3 cannot store it as one object"
            )
        if upload_id is None:
            action = "CreateMultipartUpload"
            created = await client.raw.create_multipart_upload(
                Bucket=bucket, Key=key, ContentType=content_type
            )
            upload_id = created["UploadId"]
        action = "UploadPart"
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        sent = await client.raw.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=part_number,
            # botocore sends any bytes-like body; the stub says bytes, and bytes(data) would copy the part.
            Body=data,  # type: ignore[arg-type]
            ContentLength=len(data),
            ContentMD5=md5,
        )
        parts.append({"PartNumber": part_number, "ETag": sent["ETag"]})
        uploaded += len(data)
        part_number += 1
        target = part_size_for(part_number, first_part_size)
        await _notify(on_progress, uploaded, expected_size)

    try:
        while True:
            try:
                chunk = await read_chunk()
            except DflowError:
                raise
            except Exception as exc:
                raise _ReadFailed(f"{type(exc).__name__}: {exc}") from exc
            if not chunk:
                break
            hasher.update(chunk)
            size += len(chunk)
            view = memoryview(chunk)
            offset = 0
            while offset < len(view):
                take = min(target - len(buffer), len(view) - offset)
                buffer += view[offset : offset + take]
                offset += take
                if len(buffer) >= target:
                    data, buffer = buffer, bytearray()
                    await send_part(data)
                    del data

        if upload_id is None:
            # Smaller than one part: one atomic PutObject.
            action = "PutObject"
            md5 = base64.b64encode(hashlib.md5(buffer, usedforsecurity=False).digest()).decode()
            put = await client.raw.put_object(
                Bucket=bucket, Key=key, Body=bytes(buffer), ContentType=content_type, ContentMD5=md5
            )
            uploaded = size
            await _notify(on_progress, uploaded, expected_size)
            return UploadResult(size, hasher.hexdigest(), _version(put.get("VersionId")), 0)

        if buffer:
            data, buffer = buffer, bytearray()
            await send_part(data)
            del data
        action = "CompleteMultipartUpload"
        completed = await client.raw.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        return UploadResult(size, hasher.hexdigest(), _version(completed.get("VersionId")), len(parts))

    except BaseException as exc:
        buffer = bytearray()  # let the part go before the (possibly long) abort
        if isinstance(exc, _ReadFailed):
            reason = f"Reading the dump failed after {size} bytes: {exc}"
        elif isinstance(exc, DflowError):
            reason = str(exc)
        elif isinstance(exc, call_errors()):
            reason = str(client.error(exc, action=action, bucket=bucket, key=key))
        elif isinstance(exc, asyncio.CancelledError):
            reason = "The upload was cancelled"
        else:
            reason = client.redact(f"{action} on s3://{bucket}/{key} failed: {type(exc).__name__}: {exc}")
        reason = client.redact(reason)
        code = error_code(exc)

        if upload_id is None:
            if isinstance(exc, (DflowError, asyncio.CancelledError)) or not isinstance(exc, Exception):
                raise
            raise StorageError(reason, code=code) from exc

        abort_error = await _abort_protected(client, bucket, key, upload_id, abort_timeout)
        if abort_error is not None:
            abort_reason = str(
                client.error(abort_error, action="AbortMultipartUpload", bucket=bucket, key=key)
            )
            message = (
                f"{reason}; aborting the multipart upload {upload_id} failed too "
                f"({abort_reason}); it stays in the bucket until a cleanup aborts it"
            )
            log.warning("%s", message)
            if not isinstance(exc, Exception):  # cancellation, KeyboardInterrupt
                raise
            raise UploadNotAborted(message, upload_id=upload_id, code=code) from exc
        if isinstance(exc, DflowError) or not isinstance(exc, Exception):
            raise  # read_chunk's own DflowError, or cancellation: unchanged
        raise UploadAborted(
            f"{reason}; the multipart upload was aborted, nothing was left in the bucket", code=code
        ) from exc


def _transient(exc: BaseException) -> bool:
    if is_connection_error(exc):
        return True
    code = error_code(exc) or ""
    return code in {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "500",
        "502",
        "503",
        "504",
    }


async def _abort(
    client: S3Client, bucket: str, key: str, upload_id: str, timeout: float
) -> BaseException | None:
    """Abort `upload_id`, retrying transient failures until `timeout` seconds have
    passed. None when the upload is gone; else the last error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.25
    confirmations = 0
    last_error: BaseException | None = None
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return last_error or StorageError(f"No answer to AbortMultipartUpload within {timeout:g} s")
        try:
            await asyncio.wait_for(
                client.raw.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id),
                timeout=remaining,
            )
        except TimeoutError as exc:
            from botocore.exceptions import BotoCoreError  # loaded already: the client is open

            if not isinstance(exc, BotoCoreError):  # our own deadline, not botocore's read timeout
                return last_error or StorageError(f"No answer to AbortMultipartUpload within {timeout:g} s")
            last_error = exc
        except call_errors() as exc:
            if error_code(exc) == "NoSuchUpload":
                return None
            if not _transient(exc):
                return exc
            last_error = exc
        else:
            # S3 advises checking: a part still in flight when the abort ran may
            # have been stored after it. No parts left (NoSuchUpload) = done.
            try:
                listing = await asyncio.wait_for(
                    client.raw.list_parts(Bucket=bucket, Key=key, UploadId=upload_id),
                    timeout=max(deadline - loop.time(), 1.0),
                )
            except call_errors():
                return None  # NoSuchUpload (the normal answer) or cannot tell: the abort itself succeeded
            confirmations += 1
            if not listing.get("Parts") or confirmations >= 3:
                return None
        await asyncio.sleep(max(min(delay, deadline - loop.time()), 0))
        delay = min(delay * 2, 5.0)


async def _abort_protected(
    client: S3Client, bucket: str, key: str, upload_id: str, timeout: float
) -> BaseException | None:
    """Run the abort to its end even if the caller is cancelled (again) meanwhile."""
    task = asyncio.ensure_future(_abort(client, bucket, key, upload_id, timeout))
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                result = task.result() if not task.cancelled() else None
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError()
    return result
