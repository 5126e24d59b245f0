"""The rules of an S3 multipart upload, shared by the uploader (`upload.py`).

- Part size: at least 8 MiB, and at least `expected_size / 10,000` (rounded up to a
  MiB) so that 10,000 parts cover the dump. Whatever the start size, the part size
  doubles every 1,000 parts (capped at 5 GiB), so an unknown or underestimated dump
  still fits in 10,000 parts up to about 8 TiB at the 8 MiB start (over the 5 TiB S3
  object limit).
- Abort: a failed upload is aborted, retrying transient failures for up to
  `abort_timeout` seconds and checking that no part survived it. No partial object is
  ever created (an object only appears on CompleteMultipartUpload), and no orphaned
  upload remains unless the endpoint stays unreachable for the whole abort window;
  then `UploadNotAborted` names the upload, and `doctor --fix` (abort_uploads_of)
  removes it later.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dflow_tui.storage.errors import (
    StorageError,
    error_code,
    is_connection_error,
)
from dflow_tui.storage.s3 import S3Client, call_errors

if TYPE_CHECKING:
    pass

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
    """Wraps a non-DflowError raised by the stream being uploaded, to tell it from S3 errors."""


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
