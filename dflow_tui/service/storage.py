"""Integrations → Backup Storage: S3-compatible providers, their secrets and verification."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from dflow_tui.core.enums import ProviderStatus
from dflow_tui.core.errors import AlreadyExists, Conflict, InvalidName, NotFound
from dflow_tui.core.naming import validate_label
from dflow_tui.core.permissions import Permission
from dflow_tui.core.views import ProviderView
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.storage_access import storage_config
from dflow_tui.secrets import (
    delete_secret_async,
    keyring_status_async,
    set_secret_async,
    storage_secret_name,
)
from dflow_tui.service.access import Access
from dflow_tui.storage import StorageConfig, VerifyResult, verify
from dflow_tui.store.tables import Backup, Service, StorageProvider


def provider_view(provider: StorageProvider) -> ProviderView:
    return ProviderView(
        id=provider.id,
        name=provider.name,
        endpoint_url=provider.endpoint_url,
        region=provider.region,
        bucket=provider.bucket,
        prefix=provider.prefix,
        access_key_id=provider.access_key_id,
        status=provider.status,
        status_reason=provider.status_reason,
        verified_at=provider.verified_at,
    )


async def provider_by_name(session, name: str) -> StorageProvider:
    provider = (await session.exec(select(StorageProvider).where(StorageProvider.name == name))).first()
    if provider is None:
        raise NotFound(f"No storage provider named {name!r} (see `dflow-tui storage list`)")
    return provider


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
        prefix: str = "dflow/backups",
    ) -> ProviderView:
        """Saves the provider (unverified) and its secret in the OS keyring."""
        await self.access.require(Permission.STORAGE, "storage.add", target=name)
        validate_label(name, "storage provider")
        if not access_key_id.strip():
            raise InvalidName("The access key id is empty")
        if not secret_access_key:
            raise InvalidName("The secret access key is empty")
        config = StorageConfig(
            endpoint_url=endpoint_url,
            region=region,
            bucket=bucket,
            prefix=prefix,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
        async with self.db.session() as session:
            existing = (
                await session.exec(select(StorageProvider).where(StorageProvider.name == name))
            ).first()
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
            created_at=self.ctx.clock.now(),
        )
        async with self.db.session() as session:
            session.add(provider)
            try:
                await session.commit()
            except IntegrityError:
                raise AlreadyExists(f"Storage provider {name!r} already exists") from None
            await session.refresh(provider)
        await self.access.audit(
            "storage.add",
            "ok",
            target=name,
            detail=f"s3://{provider.bucket}/{provider.prefix} at {provider.endpoint_url}",
        )
        return provider_view(provider)

    async def list(self) -> list[ProviderView]:
        await self.access.require(Permission.READ, "storage.list")
        async with self.db.reading() as session:
            providers = (await session.exec(select(StorageProvider).order_by(StorageProvider.name))).all()
        return [provider_view(p) for p in providers]

    async def get(self, name: str) -> ProviderView:
        async with self.db.reading() as session:
            return provider_view(await provider_by_name(session, name))

    async def verify(self, name: str) -> VerifyResult:
        """Proves put, get, list and delete on the prefix; records verified/unverified and why."""
        await self.access.require(Permission.STORAGE, "storage.verify", target=name)
        async with self.db.session() as session:
            provider = await provider_by_name(session, name)
        config = await storage_config(provider)
        self.ctx.secrets.add(config.secret_access_key)
        result = await verify(config)
        async with self.db.session() as session:
            provider = await session.get(StorageProvider, provider.id)
            provider.status = (ProviderStatus.VERIFIED if result.ok else ProviderStatus.UNVERIFIED).value
            provider.status_reason = result.reason
            provider.verified_at = self.ctx.clock.now()
            session.add(provider)
            await session.commit()
        await self.access.audit(
            "storage.verify", "ok" if result.ok else "failed", target=name, detail=result.reason
        )
        return result

    async def remove(self, name: str) -> None:
        await self.access.require(Permission.STORAGE, "storage.remove", target=name)
        async with self.db.session() as session:
            provider = await provider_by_name(session, name)
            user = (await session.exec(select(Service).where(Service.provider_id == provider.id))).first()
            if user is not None:
                raise Conflict(
                    f"Storage provider {name!r} is the destination of a service; "
                    "set its destination to something else first"
                )
            kept = (
                await session.exec(
                    select(Backup).where(
                        Backup.provider_id == provider.id,
                        col(Backup.deleted_at).is_(None),
                    )
                )
            ).first()
            if kept is not None:
                raise Conflict(
                    f"Storage provider {name!r} still holds backups (e.g. backup {kept.id}); "
                    "delete them first, or they could no longer be restored"
                )
            await session.delete(provider)
            await session.commit()
        await delete_secret_async(storage_secret_name(name))
        await self.access.audit("storage.remove", "ok", target=name)

    async def keyring_status(self) -> tuple[bool, str]:
        return await keyring_status_async()
