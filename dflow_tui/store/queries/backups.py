"""Backup rows: recording one, the list and its revision, and the questions the scheduler,
retention, stale cleanup and the checks before a restore ask about them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, case, func, inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from dflow_tui.core.enums import (
    BackupStatus,
    BackupType,
    OperationKind,
    OperationStatus,
    Trigger,
)
from dflow_tui.core.errors import BackupInProgress
from dflow_tui.core.tiers import Tier
from dflow_tui.store.db import Database
from dflow_tui.store.queries import rows
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, BackupCopy, Operation


class BackupRow(Protocol):
    """A backup as the list reads it: a plain row of the `backups` table (a `Backup` fits too)."""

    @property
    def id(self) -> int | None: ...
    @property
    def service_id(self) -> int: ...
    @property
    def type(self) -> BackupType: ...
    @property
    def status(self) -> BackupStatus: ...
    @property
    def trigger(self) -> Trigger: ...
    @property
    def schedule_tier(self) -> Tier | None: ...
    @property
    def file_path(self) -> str | None: ...
    @property
    def bucket(self) -> str | None: ...
    @property
    def object_key(self) -> str | None: ...
    @property
    def provider_id(self) -> int | None: ...
    @property
    def size_bytes(self) -> int | None: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def stored_size_bytes(self) -> int | None: ...
    @property
    def stored_sha256(self) -> str | None: ...
    @property
    def compression(self) -> str | None: ...
    @property
    def encrypted_for(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def requested_by(self) -> str | None: ...
    @property
    def cancel_requested_by(self) -> str | None: ...
    @property
    def worker_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def deleted_at(self) -> datetime | None: ...


class OperationRow(Protocol):
    """A restore or delete as the list reads it: a plain row of `operations` (an `Operation` fits too)."""

    @property
    def id(self) -> int | None: ...
    @property
    def backup_id(self) -> int: ...
    @property
    def kind(self) -> OperationKind: ...
    @property
    def status(self) -> OperationStatus: ...
    @property
    def error(self) -> str | None: ...
    @property
    def cancel_requested_by(self) -> str | None: ...
    @property
    def irreversible_at(self) -> datetime | None: ...


_BACKUPS = inspect(Backup).local_table
_OPERATIONS = inspect(Operation).local_table
_COPIES = inspect(BackupCopy).local_table


def _rows_of(*columns: Any) -> Select[*tuple[Any, ...]]:
    """A select whose rows are plain rows (no ORM objects built): what the list reads fast."""
    return Select(*columns)


# --- recording -----------------------------------------------------------------------


async def latest_created_at(session: StateSession, service_id: int) -> datetime | None:
    """When the service's newest backup was recorded (dump names are unique to the millisecond)."""
    query = select(func.max(col(Backup.created_at))).where(Backup.service_id == service_id)
    return (await session.exec(query)).first()


async def recovery_facts(session: StateSession, service_id: int) -> tuple[datetime | None, bool]:
    """When the service's newest kept backup succeeded (any trigger), and whether its
    newest finished backup failed: what its recovery state is made of."""
    last = (
        await session.exec(
            select(func.max(col(Backup.created_at))).where(
                Backup.service_id == service_id,
                Backup.status == BackupStatus.SUCCESS,
                col(Backup.deleted_at).is_(None),
            )
        )
    ).first()
    newest = (
        await session.exec(
            select(col(Backup.status))
            .where(Backup.service_id == service_id, Backup.status != BackupStatus.IN_PROGRESS)
            .order_by(col(Backup.id).desc())
            .limit(1)
        )
    ).first()
    return last, newest == BackupStatus.FAILED


async def latest_created_at_of(session: StateSession, service_ids: list[int]) -> dict[int, datetime]:
    """latest_created_at for many services at once."""
    found: dict[int, datetime] = {}
    for chunk in rows.chunks(service_ids):
        query = (
            select(col(Backup.service_id), func.max(col(Backup.created_at)))
            .where(col(Backup.service_id).in_(chunk))
            .group_by(col(Backup.service_id))
        )
        for service_id, when in (await session.exec(query)).all():
            if when is not None:
                found[service_id] = when
    return found


async def insert_backups(
    session: StateSession, new: list[Backup], copies: dict[int, list[BackupCopy]] | None = None
) -> bool:
    """Saves new backup rows in one statement batch, with their copies (by service id: one
    backup per service) in another, and commits; False (nothing saved) when one of their
    services has a backup in progress by now."""
    session.add_all(new)
    try:
        if copies:
            await session.flush()
            for backup in new:
                for copy in copies.get(backup.service_id, []):
                    copy.backup_id = rows.saved_id(backup.id)
                    session.add(copy)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def insert_backup(
    session: StateSession, backup: Backup, service_path: str, copies: Sequence[BackupCopy] = ()
) -> Backup:
    """Saves a new backup row (with its copies) and commits. The database holds one backup in
    progress per service: a second one is refused as a Conflict."""
    session.add(backup)
    try:
        if copies:
            await session.flush()
            for copy in copies:
                copy.backup_id = rows.saved_id(backup.id)
                session.add(copy)
        await session.commit()
    except IntegrityError:
        raise BackupInProgress(f"A backup of {service_path} is already in progress") from None
    await session.refresh(backup)
    return backup


async def request_cancel(db: Database, backup_id: int, by: str) -> tuple[bool, Backup]:
    """Marks who asked to stop the backup, only while it is in progress; returns whether it
    did, and the row as it is now."""
    in_progress = [col(Backup.status) == BackupStatus.IN_PROGRESS]
    return await rows.update_where(db, Backup, backup_id, in_progress, cancel_requested_by=by)


async def cancel_queued(db: Database, backup_id: int, by: str, now: datetime) -> bool:
    """Fails a backup no process has taken yet, in one statement; False if one took it first."""
    unclaimed = [col(Backup.status) == BackupStatus.IN_PROGRESS, col(Backup.worker_id).is_(None)]
    marked, _row = await rows.update_where(
        db,
        Backup,
        backup_id,
        unclaimed,
        status=BackupStatus.FAILED,
        error=f"Cancelled by {by} before it started",
        cancel_requested_by=by,
        finished_at=now,
    )
    return marked


# --- the list ------------------------------------------------------------------------


def _list_filter(service_id: int | None, include_deleted: bool) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if service_id is not None:
        where.append(_BACKUPS.c.service_id == service_id)
    if not include_deleted:
        where.append(_BACKUPS.c.deleted_at.is_(None))
    return where


async def list_rows(
    session: StateSession, service_id: int | None = None, *, include_deleted: bool = False
) -> Sequence[BackupRow]:
    """The backups (of one service, or all), newest first, as plain rows: the list runs every
    second in the TUI, over tens of thousands of rows, and builds no ORM object."""
    query = (
        _rows_of(_BACKUPS)
        .where(*_list_filter(service_id, include_deleted))
        .order_by(_BACKUPS.c.created_at.desc(), _BACKUPS.c.id.desc())
    )
    # sqlmodel types a row of this select as a tuple; it is a Row, read by column name.
    return cast("Sequence[BackupRow]", (await session.exec(query)).all())


async def latest_operations(
    session: StateSession, service_id: int | None = None, *, include_deleted: bool = False
) -> dict[int, OperationRow]:
    """The newest restore or delete of each backup `list_rows` lists, by backup id."""
    query = (
        _rows_of(_OPERATIONS)
        .join(_BACKUPS, _OPERATIONS.c.backup_id == _BACKUPS.c.id)
        .where(*_list_filter(service_id, include_deleted))
        .order_by(_OPERATIONS.c.id)
    )
    # As above: plain Rows, read by column name.
    operations = cast("Sequence[OperationRow]", (await session.exec(query)).all())
    return {operation.backup_id: operation for operation in operations}


async def safety_backups(session: StateSession, service_id: int | None = None) -> dict[int, int]:
    """Each safety backup's id, with the id of the backup whose restore took it."""
    query = (
        _rows_of(_OPERATIONS.c.safety_backup_id, _OPERATIONS.c.backup_id)
        .join(_BACKUPS, _OPERATIONS.c.safety_backup_id == _BACKUPS.c.id)
        .where(_OPERATIONS.c.safety_backup_id.is_not(None))
    )
    if service_id is not None:
        query = query.where(_BACKUPS.c.service_id == service_id)
    found = cast("Sequence[tuple[int, int]]", (await session.exec(query)).all())
    return dict(found)


def _status_counts(column: ColumnElement[Any], statuses: Iterable[str]) -> list[ColumnElement[Any]]:
    return [func.sum(case((column == status, 1), else_=0)) for status in statuses]


async def revision(session: StateSession, service_id: int | None = None) -> tuple[object, ...]:
    """A cheap fingerprint of the list (of one service, or all): it changes whenever the
    list would, so a live view fetches the list only when it moved."""
    where = [] if service_id is None else [_BACKUPS.c.service_id == service_id]
    backups = _rows_of(
        func.count(),
        func.max(_BACKUPS.c.id),
        func.max(_BACKUPS.c.finished_at),
        func.max(_BACKUPS.c.deleted_at),
        func.max(_BACKUPS.c.started_at),
        func.count(_BACKUPS.c.deleted_at),
        func.count(_BACKUPS.c.error),
        func.count(_BACKUPS.c.cancel_requested_by),
        *_status_counts(_BACKUPS.c.status, [s.value for s in BackupStatus]),
    ).where(*where)
    operations = (
        _rows_of(
            func.count(),
            func.max(_OPERATIONS.c.id),
            func.max(_OPERATIONS.c.finished_at),
            func.max(_OPERATIONS.c.started_at),
            func.count(_OPERATIONS.c.cancel_requested_by),
            func.count(_OPERATIONS.c.irreversible_at),
            *_status_counts(_OPERATIONS.c.status, [s.value for s in OperationStatus]),
        )
        .select_from(_OPERATIONS.join(_BACKUPS, _OPERATIONS.c.backup_id == _BACKUPS.c.id))
        .where(*where)
    )
    copies = (
        _rows_of(
            func.count(),
            func.max(_COPIES.c.finished_at),
            func.count(_COPIES.c.deleted_at),
            func.count(_COPIES.c.error),
            *_status_counts(_COPIES.c.status, [s.value for s in BackupStatus]),
        )
        .select_from(_COPIES.join(_BACKUPS, _COPIES.c.backup_id == _BACKUPS.c.id))
        .where(*where)
    )
    mine = (await session.exec(backups)).one()
    ops = (await session.exec(operations)).one()
    kept = (await session.exec(copies)).one()
    return tuple(mine) + tuple(ops) + tuple(kept)


# --- questions about a service's backups ---------------------------------------------


async def running_backup(session: StateSession, service_id: int) -> Backup | None:
    """The service's backup in progress, if any (there is at most one)."""
    query = select(Backup).where(Backup.service_id == service_id, Backup.status == BackupStatus.IN_PROGRESS)
    return (await session.exec(query)).first()


async def last_successes(session: StateSession, service_id: int) -> dict[Tier, datetime]:
    """When each tier of the service last succeeded (kept backups only): what makes a tier due."""
    query = (
        select(col(Backup.schedule_tier), func.max(col(Backup.created_at)))
        .where(
            Backup.service_id == service_id,
            Backup.trigger == Trigger.SCHEDULED,
            Backup.status == BackupStatus.SUCCESS,
            col(Backup.deleted_at).is_(None),
        )
        .group_by(col(Backup.schedule_tier))
    )
    return {
        tier: when
        for tier, when in (await session.exec(query)).all()
        if tier is not None and when is not None
    }


async def tier_successes(db: Database, service_id: int, tier: Tier) -> list[Backup]:
    """The kept successful scheduled backups of one tier of the service, newest first."""
    query = (
        select(Backup)
        .where(
            Backup.service_id == service_id,
            Backup.trigger == Trigger.SCHEDULED,
            Backup.schedule_tier == tier.value,
            Backup.status == BackupStatus.SUCCESS,
            col(Backup.deleted_at).is_(None),
        )
        .order_by(col(Backup.created_at).desc(), col(Backup.id).desc())
    )
    async with db.session() as session:
        return list((await session.exec(query)).all())


async def in_progress(session: StateSession) -> list[Backup]:
    """Every backup in progress, whoever runs it (or nobody yet)."""
    query = select(Backup).where(Backup.status == BackupStatus.IN_PROGRESS)
    return list((await session.exec(query)).all())


async def all_backups(session: StateSession) -> list[Backup]:
    """Every backup row, deleted ones included."""
    return list((await session.exec(select(Backup).order_by(col(Backup.id)))).all())


async def kept_on_provider(session: StateSession, provider_id: int) -> Backup | None:
    """A backup (not deleted) whose dump is in this storage provider, if any."""
    query = select(Backup).where(Backup.provider_id == provider_id, col(Backup.deleted_at).is_(None))
    return (await session.exec(query)).first()
