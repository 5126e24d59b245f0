"""A provider row plus its secret from the keyring make one S3 client; a backup row says
which provider, bucket and key hold its dump."""

from __future__ import annotations

from dataclasses import dataclass

from dflow_tui.core.errors import DflowError
from dflow_tui.jobs.context import JobContext
from dflow_tui.secrets import get_secret_async, storage_secret_name
from dflow_tui.storage import S3Client, StorageConfig
from dflow_tui.storage.s3 import MAX_POOL_CONNECTIONS
from dflow_tui.store.queries import rows
from dflow_tui.store.tables import Backup, StorageProvider


@dataclass(frozen=True)
class StoredObject:
    """Where an external backup's dump is: a provider's bucket, a key, maybe a version."""

    provider_id: int
    bucket: str
    key: str
    version_id: str | None = None


def stored_object(backup: Backup) -> StoredObject:
    """The object an external backup row names (every external row names one)."""
    if backup.provider_id is None or not backup.bucket or not backup.object_key:
        raise DflowError(f"Backup {backup.id} names no storage provider, bucket and object key")
    return StoredObject(backup.provider_id, backup.bucket, backup.object_key, backup.version_id)


async def storage_config(provider: StorageProvider) -> StorageConfig:
    secret = await get_secret_async(storage_secret_name(provider.name))
    if not secret:
        raise DflowError(
            f"The secret key of storage provider {provider.name!r} is not in the keyring; "
            f"remove the provider and add it again"
        )
    return StorageConfig(
        endpoint_url=provider.endpoint_url,
        region=provider.region,
        bucket=provider.bucket,
        prefix=provider.prefix,
        access_key_id=provider.access_key_id,
        secret_access_key=secret,
    )


async def open_storage(ctx: JobContext, provider_id: int) -> S3Client:
    """An S3 client (use with `async with`) for the provider a backup row names."""
    provider = await rows.load(ctx.db, StorageProvider, provider_id)
    config = await storage_config(provider)
    ctx.secrets.add(config.secret_access_key)
    return S3Client(
        config,
        max_attempts=ctx.settings.s3_max_attempts,
        # One connection per part or range in flight, and a few for the calls around them.
        max_pool_connections=max(MAX_POOL_CONNECTIONS, provider.parallel + 2),
        idle_timeout=ctx.settings.stream_idle_timeout,
    )
