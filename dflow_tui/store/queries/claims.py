"""Atomic claims: any number of processes on one state database, each job run once.

A job is claimed by setting its worker_id where it is still NULL; the row count says
who won. On PostgreSQL, candidates are read `FOR UPDATE SKIP LOCKED` so workers on
several hosts do not queue behind each other's locks. The scheduler lock is one row,
taken by a conditional UPDATE the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from dflow_tui.core.clock import Clock
from dflow_tui.core.enums import BackupStatus, OperationStatus
from dflow_tui.store.db import Database
from dflow_tui.store.tables import Backup, Operation, SchedulerLock

CANDIDATES = 5
T = TypeVar("T")


def _skip_locked(query: SelectOfScalar[T], db: Database) -> SelectOfScalar[T]:
    return query if db.is_sqlite else query.with_for_update(skip_locked=True)


async def claim_backup(db: Database, worker_id: str, clock: Clock) -> int | None:
    """The oldest unclaimed queued backup, now `worker_id`'s; None when there is none."""
    async with db.session() as session:
        query = (
            select(col(Backup.id))
            .where(Backup.status == BackupStatus.IN_PROGRESS, col(Backup.worker_id).is_(None))
            .order_by(col(Backup.created_at), col(Backup.id))
            .limit(CANDIDATES)
        )
        for backup_id in (await session.exec(_skip_locked(query, db))).all():
            now = clock.now()
            result = await session.exec(
                update(Backup)
                .where(col(Backup.id) == backup_id, col(Backup.worker_id).is_(None))
                .values(worker_id=worker_id, started_at=now, heartbeat_at=now)
            )
            if result.rowcount == 1:
                await session.commit()
                return backup_id
        await session.rollback()
    return None


async def claim_operation(db: Database, worker_id: str, clock: Clock) -> Operation | None:
    """The oldest unclaimed queued restore or delete, now `worker_id`'s; None when there is none."""
    async with db.session() as session:
        query = (
            select(col(Operation.id))
            .where(Operation.status == OperationStatus.QUEUED, col(Operation.worker_id).is_(None))
            .order_by(col(Operation.id))
            .limit(CANDIDATES)
        )
        for operation_id in (await session.exec(_skip_locked(query, db))).all():
            result = await session.exec(
                update(Operation)
                .where(col(Operation.id) == operation_id, col(Operation.worker_id).is_(None))
                .values(worker_id=worker_id, heartbeat_at=clock.now())
            )
            if result.rowcount == 1:
                await session.commit()
                return await session.get(Operation, operation_id)
        await session.rollback()
    return None


async def acquire_scheduler_lock(db: Database, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Only one scheduler pass at a time, across processes and hosts: True when `holder`
    has the lock (it was free, had expired, or was already theirs) until `now + ttl`."""
    async with db.session() as session:
        result = await session.exec(
            update(SchedulerLock)
            .where(
                col(SchedulerLock.id) == 1,
                col(SchedulerLock.holder).is_(None)
                | (col(SchedulerLock.expires_at) < now)
                | (col(SchedulerLock.holder) == holder),
            )
            .values(holder=holder, expires_at=now + ttl)
        )
        await session.commit()
        return result.rowcount == 1


async def release_scheduler_lock(db: Database, holder: str) -> None:
    async with db.session() as session:
        await session.exec(
            update(SchedulerLock)
            .where(col(SchedulerLock.id) == 1, col(SchedulerLock.holder) == holder)
            .values(holder=None, expires_at=None)
        )
        await session.commit()
