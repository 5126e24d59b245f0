"""Integrations → Backup Storage: S3-compatible providers, their secrets and verification."""

from __future__ import annotations

from collections.abc import Sequence

from dflow_tui.core.enums import AuditResult, ProviderStatus
from dflow_tui.core.errors import AlreadyExists, Conflict, InvalidName
from dflow_tui.core.naming import validate_label
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import check_parallel
from dflow_tui.core.views import ProviderView, RecipientView
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.storage_access import storage_config
from dflow_tui.pipeline import parse_recipient, parse_recipients
from dflow_tui.secrets import (
    delete_secret_async,
    keyring_status_async,
    set_secret_async,
    storage_secret_name,
)
from dflow_tui.service.access import Access
from dflow_tui.settings import DEFAULT_PARALLEL, DEFAULT_PREFIX, MAX_PARALLEL
from dflow_tui.storage import StorageConfig, VerifyResult, verify
from dflow_tui.store.queries import backups, copies, inventory, providers, rows
from dflow_tui.store.tables import StorageProvider


def provider_view(provider: StorageProvider) -> ProviderView:
    return ProviderView(
        id=rows.saved_id(provider.id),
        name=provider.name,
        endpoint_url=provider.endpoint_url,
        region=provider.region,
        bucket=provider.bucket,
        prefix=provider.prefix,
        access_key_id=provider.access_key_id,
        status=provider.status,
        status_reason=provider.status_reason,
        verified_at=provider.verified_at,
        parallel=provider.parallel,
        recipients=tuple(
            RecipientView(r.text, r.fingerprint) for r in parse_recipients(provider.recipients or "")
        ),
    )


class StorageProviders:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.db = ctx.db
        self.access = access

    async def add(
        self,
        name: str,
        *,
        endpoint_url: str,
        region: str,
        bucket: str,
        access_key_id: str,
        secret_access_key: str,
        prefix: str = DEFAULT_PREFIX,
        parallel: int = DEFAULT_PARALLEL,
    ) -> ProviderView:
        """Saves the provider (unverified) and its secret in the OS keyring."""
        await self.access.require(Permission.STORAGE, "storage.add", target=name)
        validate_label(name, "storage provider")
        if not access_key_id.strip():
            raise InvalidName("The access key id is empty")
        if not secret_access_key:
            raise InvalidName("The secret access key is empty")
        check_parallel(parallel, MAX_PARALLEL)
        config = StorageConfig(
            endpoint_url=endpoint_url,
            region=region,
            bucket=bucket,
            prefix=prefix,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
        async with self.db.session() as session:
            existing = await providers.provider_named(session, name)
        if existing is not None:
            raise AlreadyExists(f"Storage provider {name!r} already exists")
        await set_secret_async(storage_secret_name(name), secret_access_key)
        provider = StorageProvider(
            name=name,
            endpoint_url=config.endpoint_url,
            region=config.region,
            bucket=config.bucket,
            prefix=config.prefix,
            access_key_id=access_key_id,
            status=ProviderStatus.UNVERIFIED,
            status_reason="Not verified yet",
            parallel=parallel,
            created_at=self.ctx.clock.now(),
        )
        provider = await rows.insert(self.db, provider, f"Storage provider {name!r}")
        await self.access.audit(
            "storage.add",
            AuditResult.SUCCEEDED,
            target=name,
            detail=f"s3://{provider.bucket}/{provider.prefix} at {provider.endpoint_url}",
        )
        return provider_view(provider)

    async def list(self) -> list[ProviderView]:
        await self.access.require(Permission.READ, "storage.list")
        return [provider_view(p) for p in await providers.list_providers(self.db)]

    async def get(self, name: str) -> ProviderView:
        async with self.db.reading() as session:
            return provider_view(await providers.provider_by_name(session, name))

    async def verify(self, name: str) -> VerifyResult:
        """Proves put, get, list and delete on the prefix; records verified/unverified and why."""
        await self.access.require(Permission.STORAGE, "storage.verify", target=name)
        async with self.db.session() as session:
            provider = await providers.provider_by_name(session, name)
        config = await storage_config(provider)
        self.ctx.secrets.add(config.secret_access_key)
        result = await verify(config)
        await rows.update(
            self.db,
            StorageProvider,
            provider.id,
            status=ProviderStatus.VERIFIED if result.ok else ProviderStatus.UNVERIFIED,
            status_reason=result.reason,
            verified_at=self.ctx.clock.now(),
        )
        await self.access.audit(
            "storage.verify",
            AuditResult.SUCCEEDED if result.ok else AuditResult.FAILED,
            target=name,
            detail=result.reason,
        )
        return result

    async def edit(self, name: str, *, parallel: int) -> ProviderView:
        """How many parts (and ranges) go at once: parallel streams make S3 fast; each holds a
        part in memory."""
        await self.access.require(Permission.STORAGE, "storage.edit", target=name)
        check_parallel(parallel, MAX_PARALLEL)
        async with self.db.session() as session:
            provider = await providers.provider_by_name(session, name)
        updated = await rows.update(self.db, StorageProvider, rows.saved_id(provider.id), parallel=parallel)
        await self.access.audit(
            "storage.edit", AuditResult.SUCCEEDED, target=name, detail=f"parallel {parallel}"
        )
        return provider_view(updated)

    async def encrypt(self, name: str, recipients: Sequence[str]) -> ProviderView:
        """The next backups stored with this provider are encrypted (age) to every one of
        these public keys; none turns encryption off. Existing backups stay as they are."""
        await self.access.require(Permission.STORAGE, "storage.encrypt", target=name)
        parsed = [parse_recipient(text) for text in recipients]
        texts = list(dict.fromkeys(r.text for r in parsed))
        async with self.db.session() as session:
            provider = await providers.provider_by_name(session, name)
        updated = await rows.update(
            self.db, StorageProvider, rows.saved_id(provider.id), recipients="\n".join(texts) or None
        )
        detail = ", ".join(r.fingerprint for r in parsed) if parsed else "off"
        await self.access.audit("storage.encrypt", AuditResult.SUCCEEDED, target=name, detail=detail)
        return provider_view(updated)

    async def remove(self, name: str) -> None:
        await self.access.require(Permission.STORAGE, "storage.remove", target=name)
        async with self.db.session() as session:
            provider = await providers.provider_by_name(session, name)
            provider_id = rows.saved_id(provider.id)
            if await inventory.service_with_provider(session, provider_id) is not None:
                raise Conflict(
                    f"Storage provider {name!r} is the destination of a service; "
                    "set its destination to something else first"
                )
            if await copies.copy_on_provider(session, provider_id) is not None:
                raise Conflict(
                    f"Storage provider {name!r} holds copies of a service's backups; "
                    "set its destination without it first"
                )
            kept = await backups.kept_on_provider(session, provider_id)
            kept_copy = await copies.kept_copy_on_provider(session, provider_id)
            kept_id = kept.id if kept is not None else kept_copy.backup_id if kept_copy is not None else None
            if kept_id is not None:
                raise Conflict(
                    f"Storage provider {name!r} still holds backups (e.g. backup {kept_id}); "
                    "delete them first, or they could no longer be restored"
                )
            await rows.delete(session, provider)
        await delete_secret_async(storage_secret_name(name))
        await self.access.audit("storage.remove", AuditResult.SUCCEEDED, target=name)

    async def keyring_status(self) -> tuple[bool, str]:
        return await keyring_status_async()
