"""An async S3 client (aiobotocore) for one S3-compatible provider, and the object
operations the backup jobs need: head, streamed download, delete every version.

The client belongs to the event loop that opened it; open it with `async with`:

    async with S3Client(config) as client:
        info = await head(client, config.bucket, key)

Every failure is raised as a `StorageError` (a `DflowError`) whose message is one
clear sentence with the secret access key redacted.

aiobotocore and botocore are imported when a client is opened (or an S3 error is
caught), never when this module is imported.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from dflow_tui.core.redact import redact
from dflow_tui.settings import (
    MAX_JOB_RUNTIME,
    S3_CONNECT_TIMEOUT,
    S3_MAX_ATTEMPTS,
    S3_READ_TIMEOUT,
    STREAM_IDLE_TIMEOUT,
)
from dflow_tui.storage.errors import (
    StorageError,
    error_code,
    is_not_found,
    storage_error,
)
from dflow_tui.storage.provider import StorageConfig

T = TypeVar("T")

if TYPE_CHECKING:
    from aiobotocore.session import ClientCreatorContext
    from types_aiobotocore_s3.client import S3Client as AioS3Client

DOWNLOAD_CHUNK_SIZE = 1024 * 1024
MAX_POOL_CONNECTIONS = 10
ORPHANED_UPLOAD_AGE = MAX_JOB_RUNTIME + timedelta(hours=1)
"""Multipart uploads older than this are orphans: longer than any backup job may run."""


@functools.cache
def call_errors() -> tuple[type[BaseException], ...]:
    """What an S3 call can raise besides our own errors: `except call_errors() as exc:`.

    A function, so that botocore is only imported once such an error is being
    caught (an except clause's expression is evaluated when an exception reaches
    it), not when this module is imported.
    """
    from aiohttp import ClientError as HTTPClientError
    from botocore.exceptions import BotoCoreError, ClientError

    # aiohttp's own errors reach us from a body read (a connection cut mid-body raises
    # ClientPayloadError, which is no ConnectionError); botocore wraps only its requests.
    return (ClientError, BotoCoreError, HTTPClientError, ConnectionError, asyncio.TimeoutError)


if TYPE_CHECKING:
    CALL_ERRORS: tuple[type[BaseException], ...]
    """Deprecated: `call_errors()` (importing this name imports botocore)."""
else:

    def __getattr__(name: str) -> object:
        # `from dflow_tui.storage.s3 import CALL_ERRORS` keeps working for modules
        # that still use it; it loads botocore then, which call_errors() does not.
        if name == "CALL_ERRORS":
            return call_errors()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class S3Client:
    """One aiobotocore S3 client for `config`, used as an async context manager.

    - path-style addressing (works with MinIO, B2, Ceph, moto and AWS alike);
    - botocore "standard" retries: 5xx, throttling and connection errors are
      retried with exponential backoff and jitter, up to `max_attempts` tries per
      request (an UploadPart retry re-sends the same in-memory part, so it is safe);
    - connect/read timeouts;
    - request checksums only where the API requires them, and response checksum
      validation likewise: many S3-compatible providers reject the CRC32 trailers
      that botocore >= 1.36 sends by default.
    """

    def __init__(
        self,
        config: StorageConfig,
        *,
        max_attempts: int = S3_MAX_ATTEMPTS,
        connect_timeout: float = S3_CONNECT_TIMEOUT,
        read_timeout: float = S3_READ_TIMEOUT,
        max_pool_connections: int = MAX_POOL_CONNECTIONS,
        idle_timeout: float | None = STREAM_IDLE_TIMEOUT,
    ) -> None:
        self.config = config
        # botocore's read timeout is per socket read: an endpoint that drips a byte now and
        # then never trips it. A transfer step (one part, one chunk) must end within this.
        self.idle_timeout = idle_timeout
        self._max_attempts = max_attempts
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_pool_connections = max_pool_connections
        self._context: ClientCreatorContext[AioS3Client] | None = None
        self._raw: AioS3Client | None = None

    @property
    def raw(self) -> AioS3Client:
        """The aiobotocore client (only inside `async with`)."""
        if self._raw is None:
            raise StorageError("The S3 client is not open: use it inside `async with S3Client(...)`")
        return self._raw

    @property
    def endpoint_url(self) -> str:
        return self.config.endpoint_url

    @property
    def max_pool_connections(self) -> int:
        """How many requests can be in flight at once (the size of the connection pool)."""
        return self._max_pool_connections

    async def __aenter__(self) -> S3Client:
        # The S3 libraries load here, when a client is opened, not when this module is imported.
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session
        from botocore.exceptions import BotoCoreError

        aio_config = AioConfig(
            region_name=self.config.region,
            signature_version="s3v4",
            retries={"mode": "standard", "max_attempts": self._max_attempts},
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            max_pool_connections=self._max_pool_connections,
            # Parts carry a Content-MD5 (computed off the event loop) that S3 checks; signing
            # the payload too would hash every byte again, on the loop, whenever the endpoint
            # is plain HTTP (botocore already skips it on HTTPS when a checksum is present).
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            warm_up_loader_caches=True,
        )
        session = get_session()
        try:
            self._context = session.create_client(
                "s3",
                endpoint_url=self.config.endpoint_url,
                region_name=self.config.region,
                aws_access_key_id=self.config.access_key_id,
                aws_secret_access_key=self.config.secret_access_key,
                config=aio_config,
            )
            self._raw = await self._context.__aenter__()
        except (ValueError, BotoCoreError) as exc:
            self._context = None
            raise StorageError(
                redact(
                    f"Cannot use endpoint URL {self.config.endpoint_url}: {exc}",
                    [self.config.secret_access_key],
                )
            ) from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        context, self._context, self._raw = self._context, None, None
        if context is not None:
            await context.__aexit__(exc_type, exc, tb)

    def error(
        self,
        exc: BaseException,
        *,
        action: str,
        bucket: str | None = None,
        key: str | None = None,
        cls: type[StorageError] = StorageError,
    ) -> StorageError:
        """`exc` as a StorageError with a clear, secret-free sentence."""
        return storage_error(
            exc,
            action=action,
            endpoint_url=self.endpoint_url,
            bucket=bucket,
            key=key,
            secret=self.config.secret_access_key,
            cls=cls,
        )

    def redact(self, text: str) -> str:
        return redact(text, [self.config.secret_access_key])

    async def within(self, step: Awaitable[T], *, action: str, bucket: str, key: str | None = None) -> T:
        """`step` (one request, or one read of a body), stopped when it takes longer than
        the idle timeout: a stalled endpoint fails the transfer instead of hanging it."""
        try:
            async with asyncio.timeout(self.idle_timeout):  # in this task: cancelling it cancels the step
                return await step
        except TimeoutError:
            where = f"s3://{bucket}/{key}" if key else f"bucket {bucket!r}"
            raise StorageError(
                f"{action} on {where} made no progress for {self.idle_timeout:g}s "
                "(the endpoint stalled): stopped it"
            ) from None

    async def call(
        self, action: str, *, bucket: str, key: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """`client.<action>(Bucket=bucket, [Key=key], **params)`, errors mapped."""
        method = getattr(self.raw, _snake(action))
        if key is not None:
            params["Key"] = key
        try:
            response: dict[str, Any] = await method(Bucket=bucket, **params)
        except call_errors() as exc:
            raise self.error(exc, action=action, bucket=bucket, key=key) from exc
        return response


def _snake(action: str) -> str:
    out = []
    for index, char in enumerate(action):
        if char.isupper() and index:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


# --------------------------------------------------------------------------- head


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None
    version_id: str | None
    last_modified: datetime | None


async def head(
    client: S3Client, bucket: str, key: str, *, version_id: str | None = None
) -> ObjectInfo | None:
    """The object's size, ETag, version and date; None when there is no such object."""
    params: dict[str, Any] = {"VersionId": version_id} if version_id else {}
    try:
        response = await client.raw.head_object(Bucket=bucket, Key=key, **params)
    except call_errors() as exc:
        if is_not_found(exc):
            return None
        raise client.error(exc, action="HeadObject", bucket=bucket, key=key) from exc
    return ObjectInfo(
        key=key,
        size=int(response.get("ContentLength", 0)),
        etag=response.get("ETag"),
        version_id=_version(response.get("VersionId")),
        last_modified=response.get("LastModified"),
    )


def _version(version_id: str | None) -> str | None:
    """S3 says 'null' for objects of an unversioned bucket; we say None."""
    return None if version_id in (None, "", "null") else version_id


# ----------------------------------------------------------------------- download


class _Body(Protocol):
    async def read(self, amt: int = ...) -> bytes: ...


async def read_full(body: _Body, size: int) -> bytes:
    """`size` bytes of a response body, or what is left of it: a body that only trickles
    in has to deliver a whole chunk within the idle timeout (see S3Client.within)."""
    first = await body.read(size)
    if len(first) >= size or not first:
        return first
    parts = [first]
    missing = size - len(first)
    while missing > 0 and (part := await body.read(missing)):
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


class DownloadStream:
    """The body of one object, read in bounded chunks.

        stream = await download_stream(client, bucket, key)
        async with stream:
            total = stream.size
            async for chunk in stream:
                ...

    The HTTP response is released at the end of iteration, on error, and on
    leaving the `async with` (also when the loop stops early).
    """

    def __init__(
        self, client: S3Client, bucket: str, key: str, response: dict[str, Any], chunk_size: int
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._body = response["Body"]
        self._chunk_size = chunk_size
        self.size: int = int(response.get("ContentLength", 0))
        self.etag: str | None = response.get("ETag")
        self.version_id: str | None = _version(response.get("VersionId"))
        self.bytes_read = 0
        self._closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                try:
                    chunk = await self._client.within(
                        read_full(self._body, self._chunk_size),
                        action="GetObject",
                        bucket=self._bucket,
                        key=self._key,
                    )
                except call_errors() as exc:
                    raise self._client.error(
                        exc, action="GetObject", bucket=self._bucket, key=self._key
                    ) from exc
                if not chunk:
                    break
                self.bytes_read += len(chunk)
                yield chunk
            if self.bytes_read != self.size:
                raise StorageError(
                    f"Download of s3://{self._bucket}/{self._key} ended after "
                    f"{self.bytes_read} of {self.size} bytes"
                )
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._body.close()

    async def __aenter__(self) -> DownloadStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def download_stream(
    client: S3Client,
    bucket: str,
    key: str,
    *,
    version_id: str | None = None,
    chunk_size: int = DOWNLOAD_CHUNK_SIZE,
) -> DownloadStream:
    """Start a GetObject; the returned stream knows `.size` and yields chunks of at
    most `chunk_size` bytes (memory stays bounded whatever the object's size)."""
    params: dict[str, Any] = {"VersionId": version_id} if version_id else {}
    response = await client.call("GetObject", bucket=bucket, key=key, **params)
    return DownloadStream(client, bucket, key, response, chunk_size)


# ------------------------------------------------------------------------- delete


async def _versions_of(client: S3Client, bucket: str, key: str) -> list[str] | None:
    """Version ids of every version and delete marker of exactly `key`.

    None when the provider has no ListObjectVersions (e.g. it does not do versioning).
    """
    found: list[str] = []
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": key}
    while True:
        try:
            page = await client.raw.list_object_versions(**params)
        except call_errors() as exc:
            if error_code(exc) in ("NotImplemented", "501", "MethodNotAllowed", "405"):
                return None
            raise client.error(exc, action="ListObjectVersions", bucket=bucket, key=key) from exc
        past_key = False
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if entry.get("Key") == key:
                found.append(entry.get("VersionId") or "null")
            elif entry.get("Key", "") > key:
                past_key = True
        # Keys come in order and `key` sorts before every longer key with its
        # prefix: once past it there is nothing more for us.
        if not page.get("IsTruncated") or past_key:
            return found
        params["KeyMarker"] = page.get("NextKeyMarker")
        params["VersionIdMarker"] = page.get("NextVersionIdMarker")
        if not params["KeyMarker"]:
            return found


async def delete_all_versions(client: S3Client, bucket: str, key: str) -> int:
    """Delete every version and every delete marker of exactly `key` (never a
    neighbour such as `key + '.bak'`). Works on unversioned buckets too.
    Returns how many versions/markers were deleted (0 if there was nothing)."""
    deleted = 0
    for _ in range(5):
        versions = await _versions_of(client, bucket, key)
        if versions is None:  # no versioning at this provider: a plain delete is all
            if await head(client, bucket, key) is None:
                return deleted
            await client.call("DeleteObject", bucket=bucket, key=key)
            return deleted + 1
        if not versions:
            return deleted
        for version_id in versions:
            try:
                await client.raw.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
            except call_errors() as exc:
                if is_not_found(exc):
                    continue
                raise client.error(exc, action="DeleteObjectVersion", bucket=bucket, key=key) from exc
            deleted += 1
    raise StorageError(
        f"New versions of s3://{bucket}/{key} keep appearing while deleting it; "
        "something else is writing to that key"
    )


# --------------------------------------------------------------- orphaned uploads


@dataclass(frozen=True)
class IncompleteUpload:
    key: str
    upload_id: str
    initiated: datetime | None


async def list_incomplete_uploads(client: S3Client, bucket: str, prefix: str = "") -> list[IncompleteUpload]:
    """Multipart uploads started under `prefix` and neither completed nor aborted."""
    uploads: list[IncompleteUpload] = []
    params: dict[str, Any] = {"Prefix": prefix} if prefix else {}
    while True:
        page = await client.call("ListMultipartUploads", bucket=bucket, **params)
        for upload in page.get("Uploads", []) or []:
            initiated = upload.get("Initiated")
            if initiated is not None and initiated.tzinfo is None:
                initiated = initiated.replace(tzinfo=UTC)
            uploads.append(IncompleteUpload(upload["Key"], upload["UploadId"], initiated))
        if not page.get("IsTruncated"):
            return uploads
        params["KeyMarker"] = page.get("NextKeyMarker")
        params["UploadIdMarker"] = page.get("NextUploadIdMarker")


async def abort_upload(client: S3Client, bucket: str, upload: IncompleteUpload) -> bool:
    """Abort one unfinished multipart upload; False when it was gone already."""
    try:
        await client.raw.abort_multipart_upload(Bucket=bucket, Key=upload.key, UploadId=upload.upload_id)
    except call_errors() as exc:
        if error_code(exc) == "NoSuchUpload":
            return False
        raise client.error(exc, action="AbortMultipartUpload", bucket=bucket, key=upload.key) from exc
    return True


async def abort_uploads_of(client: S3Client, bucket: str, key: str) -> int:
    """Abort every unfinished multipart upload of exactly `key` (never of a key it is a prefix
    of); returns how many. For what a dead backup left: nobody else writes its key."""
    aborted = 0
    for upload in await list_incomplete_uploads(client, bucket, key):
        if upload.key == key and await abort_upload(client, bucket, upload):
            aborted += 1
    return aborted


async def list_keys(client: S3Client, bucket: str, prefix: str) -> list[str]:
    """Every current object key under `prefix` (ListObjectsV2, all pages)."""
    keys: list[str] = []
    params: dict[str, Any] = {"Prefix": prefix}
    while True:
        page = await client.call("ListObjectsV2", bucket=bucket, **params)
        keys.extend(item["Key"] for item in page.get("Contents", []) or [])
        if not page.get("IsTruncated"):
            return keys
        params["ContinuationToken"] = page["NextContinuationToken"]
