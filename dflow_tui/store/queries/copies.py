"""Copies: the places a service's backups go beside its primary, and where each backup's
copies are (read, recorded, settled)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, delete, select

from dflow_tui.core.copies import CopyFacts, Place
from dflow_tui.core.enums import ACTIVE_OPERATION_STATUSES, BackupStatus, BackupType, OperationKind
from dflow_tui.store.db import Database
from dflow_tui.store.queries import rows
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, BackupCopy, Operation, ServiceCopy, StorageProvider

# --- a service's copy destinations ----------------------------------------------------


async def service_copies(session: StateSession, service_id: int) -> list[ServiceCopy]:
    """The service's copies, in order (none: its backups go to one place)."""
    query = (
        select(ServiceCopy).where(ServiceCopy.service_id == service_id).order_by(col(ServiceCopy.position))
    )
    return list((await session.exec(query)).all())


async def copy_providers(session: StateSession, service_id: int) -> dict[int, StorageProvider]:
    """The providers the service's copies go to, by id."""
    query = (
        select(StorageProvider)
        .join(ServiceCopy, col(ServiceCopy.provider_id) == col(StorageProvider.id))
        .where(ServiceCopy.service_id == service_id)
    )
    return {p.id: p for p in (await session.exec(query)).all() if p.id is not None}


async def service_copies_of(
    session: StateSession, service_ids: Sequence[int]
) -> dict[int, list[ServiceCopy]]:
    """service_copies for many services at once (only those that have copies)."""
    found: dict[int, list[ServiceCopy]] = {}
    for chunk in rows.chunks(service_ids):
        query = (
            select(ServiceCopy)
            .where(col(ServiceCopy.service_id).in_(chunk))
            .order_by(col(ServiceCopy.service_id), col(ServiceCopy.position))
        )
        for copy in (await session.exec(query)).all():
            found.setdefault(copy.service_id, []).append(copy)
    return found


async def all_service_copies(session: StateSession) -> dict[int, list[ServiceCopy]]:
    """Every service's copies, by service id."""
    found: dict[int, list[ServiceCopy]] = {}
    query = select(ServiceCopy).order_by(col(ServiceCopy.service_id), col(ServiceCopy.position))
    for copy in (await session.exec(query)).all():
        found.setdefault(copy.service_id, []).append(copy)
    return found


async def replace_service_copies(
    session: StateSession, service_id: int, copies: Sequence[ServiceCopy]
) -> None:
    """The service's copies become `copies` (not committed: the caller saves the destination
    in the same transaction)."""
    await session.exec(delete(ServiceCopy).where(col(ServiceCopy.service_id) == service_id))
    session.add_all(copies)


async def copy_on_provider(session: StateSession, provider_id: int) -> ServiceCopy | None:
    """A service's copy going to this provider, if any."""
    query = select(ServiceCopy).where(ServiceCopy.provider_id == provider_id)
    return (await session.exec(query.limit(1))).first()


async def kept_copy_on_provider(session: StateSession, provider_id: int) -> BackupCopy | None:
    """A copy (not removed) kept in this provider, if any."""
    query = select(BackupCopy).where(
        BackupCopy.provider_id == provider_id, col(BackupCopy.deleted_at).is_(None)
    )
    return (await session.exec(query.limit(1))).first()


# --- a backup's copies ------------------------------------------------------------------


async def has_copies(db: Database, backup_id: int) -> bool:
    async with db.reading() as session:
        query = select(BackupCopy.id).where(BackupCopy.backup_id == backup_id).limit(1)
        return (await session.exec(query)).first() is not None


async def backup_copies(db: Database, backup_id: int) -> list[BackupCopy]:
    """The backup's copies, in order (deleted ones too: they say where it was)."""
    async with db.reading() as session:
        return await backup_copies_in(session, backup_id)


async def backup_copies_in(session: StateSession, backup_id: int) -> list[BackupCopy]:
    query = select(BackupCopy).where(BackupCopy.backup_id == backup_id).order_by(col(BackupCopy.position))
    return list((await session.exec(query)).all())


async def copies_of_listed(
    session: StateSession, service_id: int | None = None, *, include_deleted: bool = False
) -> dict[int, list[BackupCopy]]:
    """The copies of the backups `backups.list_rows` lists, by backup id, in order."""
    query = select(BackupCopy).join(Backup, col(BackupCopy.backup_id) == col(Backup.id))
    if service_id is not None:
        query = query.where(Backup.service_id == service_id)
    if not include_deleted:
        query = query.where(col(Backup.deleted_at).is_(None))
    found: dict[int, list[BackupCopy]] = {}
    for copy in (
        await session.exec(query.order_by(col(BackupCopy.backup_id), col(BackupCopy.position)))
    ).all():
        found.setdefault(copy.backup_id, []).append(copy)
    return found


async def copies_of_in_progress(session: StateSession) -> list[BackupCopy]:
    """The copies of every backup in progress (what jobs may be writing now)."""
    query = (
        select(BackupCopy)
        .join(Backup, col(BackupCopy.backup_id) == col(Backup.id))
        .where(Backup.status == BackupStatus.IN_PROGRESS)
    )
    return list((await session.exec(query)).all())


async def kept_copies(session: StateSession) -> list[BackupCopy]:
    """Every copy that holds a dump now: succeeded, not removed, of a backup not deleted."""
    query = (
        select(BackupCopy)
        .join(Backup, col(BackupCopy.backup_id) == col(Backup.id))
        .where(
            BackupCopy.status == BackupStatus.SUCCESS,
            col(BackupCopy.deleted_at).is_(None),
            col(Backup.deleted_at).is_(None),
        )
    )
    return list((await session.exec(query)).all())


async def update_copy(db: Database, copy_id: int | None, **values: Any) -> BackupCopy:
    return await rows.update(db, BackupCopy, copy_id, **values)


async def settle_copies(
    db: Database, backup_id: int, error: str, now: datetime, *, removed: bool = False
) -> None:
    """Every copy of the backup still in progress ends failed, with why; `removed`: those
    recorded kept too (what they held was just removed)."""
    ended = (BackupStatus.IN_PROGRESS, BackupStatus.SUCCESS) if removed else (BackupStatus.IN_PROGRESS,)
    async with db.session() as session:
        for copy in await backup_copies_in(session, backup_id):
            if copy.status in ended and copy.deleted_at is None:
                copy.status = BackupStatus.FAILED
                copy.error = error
                copy.finished_at = now
                session.add(copy)
        await session.commit()


async def keep_copy(db: Database, backup_id: int, copy_id: int | None, **values: Any) -> BackupCopy | None:
    """Records a copy made after its backup: the row `copy_id` redone, or a new row after the
    backup's others. None (nothing recorded) when the backup was deleted meanwhile or a
    delete of it is under way: the caller removes what it wrote."""
    async with db.session() as session:
        backup = await session.get(Backup, backup_id, with_for_update=True)
        if backup is None or backup.deleted_at is not None:
            return None
        active = await session.exec(
            select(Operation.id).where(
                Operation.backup_id == backup_id,
                Operation.kind == OperationKind.DELETE,
                col(Operation.status).in_(ACTIVE_OPERATION_STATUSES),
            )
        )
        if active.first() is not None:
            return None
        copy = await session.get(BackupCopy, copy_id) if copy_id is not None else None
        if copy is None:
            positions = [c.position for c in await backup_copies_in(session, backup_id)]
            copy = BackupCopy(backup_id=backup_id, position=max(positions, default=0) + 1)
        for key, value in values.items():
            setattr(copy, key, value)
        session.add(copy)
        await session.commit()
        await session.refresh(copy)
        return copy


def places(
    backup: Backup, recorded: Sequence[BackupCopy], names: dict[int, str]
) -> tuple[Place, list[CopyFacts]]:
    """The backup's primary place and its copies as core.copies' rules see them;
    `names`: provider names by id."""
    primary = Place(BackupType(backup.type), names.get(backup.provider_id or -1))
    return primary, [
        CopyFacts(
            rows.saved_id(c.id),
            Place(BackupType(c.type), names.get(c.provider_id or -1)),
            c.status,
            c.deleted_at is not None,
        )
        for c in recorded
    ]
