"""A provider row plus its secret from the keyring make one StorageConfig."""

from __future__ import annotations

from dflow_tui.core.errors import DflowError
from dflow_tui.core.models import StorageProvider
from dflow_tui.secrets import get_secret_async, storage_secret_name
from dflow_tui.storage import StorageConfig


async def storage_config(provider: StorageProvider) -> StorageConfig:
    secret = await get_secret_async(storage_secret_name(provider.name))
    if not secret:
        raise DflowError(
            f"The secret key of storage provider {provider.name!r} is not in the keyring; "
            f"remove the provider and add it again"
        )
    return StorageConfig(
        endpoint_url=provider.endpoint_url, region=provider.region, bucket=provider.bucket,
        prefix=provider.prefix, access_key_id=provider.access_key_id, secret_access_key=secret,
    )
