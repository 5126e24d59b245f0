"""Storage providers (S3-compatible buckets), found by name or by the service that uses one."""

from __future__ import annotations

from sqlmodel import col, select

from dflow_tui.core.errors import NotFound
from dflow_tui.store.db import Database
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Service, StorageProvider


async def provider_named(session: StateSession, name: str) -> StorageProvider | None:
    query = select(StorageProvider).where(StorageProvider.name == name)
    return (await session.exec(query)).first()


async def provider_by_name(session: StateSession, name: str) -> StorageProvider:
    provider = await provider_named(session, name)
    if provider is None:
        raise NotFound(f"No storage provider named {name!r} (see `dflow-tui storage list`)")
    return provider


async def provider_of(session: StateSession, service: Service) -> StorageProvider | None:
    """The provider the service's destination names, if it names one that exists."""
    if not service.provider_id:
        return None
    return await session.get(StorageProvider, service.provider_id)


async def list_providers(db: Database) -> list[StorageProvider]:
    """Every provider, by name."""
    async with db.reading() as session:
        query = select(StorageProvider).order_by(col(StorageProvider.name))
        return list((await session.exec(query)).all())


async def all_providers(session: StateSession) -> list[StorageProvider]:
    query = select(StorageProvider).order_by(col(StorageProvider.id))
    return list((await session.exec(query)).all())


async def providers_by_id(session: StateSession) -> dict[int, StorageProvider]:
    return {p.id: p for p in await all_providers(session) if p.id is not None}


async def provider_names(session: StateSession) -> dict[int, str]:
    """Each provider's name, by its id."""
    return {p.id: p.name for p in await all_providers(session) if p.id is not None}
