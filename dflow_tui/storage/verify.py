"""Prove that a provider's key can do what backups need, on the prefix, with a probe.

PutObject, GetObject (content checked), ListBucket (ListObjectsV2 on the prefix
must show the probe) and DeleteObject on `{prefix}/.dflow-verify-<random>`. On a
versioned bucket (PutObject returned a VersionId) the probe's versions and delete
marker are removed too, which proves the ListBucketVersions/DeleteObjectVersion
rights that deleting a backup needs there.

The probe is removed on every path once it was written (best effort when a step
failed).
"""

from __future__ import annotations

import secrets as _random

from dflow_tui.core.errors import DflowError
from dflow_tui.core.redact import redact
from dflow_tui.settings import S3_CONNECT_TIMEOUT
from dflow_tui.storage.errors import StorageError
from dflow_tui.storage.provider import StorageConfig, VerifyResult
from dflow_tui.storage.s3 import S3Client, call_errors, delete_all_versions

PROBE_PREFIX = ".dflow-verify-"
VERIFY_MAX_ATTEMPTS = 3
"""Fewer tries than a backup makes: a verify answers someone waiting in front of it."""
VERIFY_READ_TIMEOUT = 30.0


def probe_key(config: StorageConfig) -> str:
    return config.key_for(f"{PROBE_PREFIX}{_random.token_hex(8)}")


async def verify(
    config: StorageConfig,
    *,
    max_attempts: int = VERIFY_MAX_ATTEMPTS,
    connect_timeout: float = S3_CONNECT_TIMEOUT,
    read_timeout: float = VERIFY_READ_TIMEOUT,
) -> VerifyResult:
    """Check the provider; never raises for a provider problem (the reason says it)."""
    key = probe_key(config)
    body = f"dflow-tui verify {_random.token_hex(16)}\n".encode()
    try:
        async with S3Client(
            config,
            max_attempts=max_attempts,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        ) as client:
            return await _verify(client, config, key, body)
    except DflowError as exc:
        return VerifyResult(False, redact(str(exc), [config.secret_access_key]))
    except call_errors() as exc:  # pragma: no cover - _verify maps them all
        return VerifyResult(False, redact(f"Verify failed: {exc}", [config.secret_access_key]))


async def _verify(client: S3Client, config: StorageConfig, key: str, body: bytes) -> VerifyResult:
    bucket = config.bucket
    response = await client.call("PutObject", bucket=bucket, key=key, Body=body)
    versioned = response.get("VersionId") not in (None, "", "null")
    try:
        problem = await _after_put(client, config, key, body, versioned)
    except StorageError as exc:
        problem = str(exc)
    if problem is None:
        return VerifyResult(
            True,
            f"PutObject, GetObject, ListBucket and DeleteObject work on {config.location}"
            + (" (versioned bucket: old versions can be deleted too)" if versioned else ""),
        )
    if not await _cleanup(client, bucket, key):
        problem += f" (the probe object {key} could not be removed)"
    return VerifyResult(False, problem)


async def _after_put(
    client: S3Client, config: StorageConfig, key: str, body: bytes, versioned: bool
) -> str | None:
    """Get, list, delete the probe; the problem found, or None."""
    bucket = config.bucket
    response = await client.call("GetObject", bucket=bucket, key=key)
    async with response["Body"] as stream:
        try:
            content = await stream.read()
        except call_errors() as exc:
            raise client.error(exc, action="GetObject", bucket=bucket, key=key) from exc
    if content != body:
        return (
            f"GetObject on s3://{bucket}/{key} returned other content than was written: "
            "the endpoint or a proxy in between is not storing objects faithfully"
        )

    listing = await client.call(
        "ListObjectsV2", bucket=bucket, Prefix=config.key_for(PROBE_PREFIX), MaxKeys=1000
    )
    if key not in {entry.get("Key") for entry in listing.get("Contents", []) or []}:
        return (
            f"ListBucket (ListObjectsV2) on {config.location} does not show the probe object "
            "that was just written: listing is restricted or not consistent"
        )

    await client.call("DeleteObject", bucket=bucket, key=key)
    if versioned:
        try:
            await delete_all_versions(client, bucket, key)
        except StorageError as exc:
            return (
                f"The bucket is versioned and removing old versions failed: {exc}; "
                "deleted backups would stay in the bucket"
            )
    return None


async def _cleanup(client: S3Client, bucket: str, key: str) -> bool:
    """Best effort removal of the probe; True when it is gone."""
    try:
        await delete_all_versions(client, bucket, key)
        return True
    except StorageError:
        try:
            await client.raw.delete_object(Bucket=bucket, Key=key)
            return True
        except call_errors():
            return False
