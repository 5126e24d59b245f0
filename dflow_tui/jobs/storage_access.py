"""A provider row plus its secret from the keyring make one S3 client."""

from __future__ import annotations

from dflow_tui.core.errors import DflowError
from dflow_tui.jobs import records
from dflow_tui.jobs.context import JobContext
from dflow_tui.secrets import get_secret_async, storage_secret_name
from dflow_tui.storage import S3Client, StorageConfig
from dflow_tui.store.tables import StorageProvider


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
    provider = await records.load(ctx.db, StorageProvider, provider_id)
    config = await storage_config(provider)
    ctx.secrets.add(config.secret_access_key)
    return S3Client(config, max_attempts=ctx.settings.s3_max_attempts)
