"""Atomic claims: any number of processes on one state database, each job run once.

A job is claimed by setting its worker_id where it is still NULL; the row count says
who won. On PostgreSQL, candidates are read `FOR UPDATE SKIP LOCKED` so workers on
several hosts do not queue behind each other's locks. The scheduler lock is one row,
taken by a conditional UPDATE the same way.

Each server runs at most `servers.max_jobs` claimed jobs at once, whoever runs them:
candidates on a full server are passed over (the oldest job of a server with room
goes first, so one busy server does not hold up the others), and the count is taken
again with the server's row locked before the claim, so two workers cannot both take
its last slot (SQLite: the claim's transaction holds the write lock from its start).
A job someone starts by hand is claimed at once by their own process, not here: the
limit is on what workers take from the queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, update
from sqlalchemy.orm import Mapped, aliased
from sqlmodel import col, select

from dflow_tui.core.clock import Clock
from dflow_tui.core.enums import ACTIVE_OPERATION_STATUSES, BackupStatus, OperationStatus, Trigger
from dflow_tui.store.db import Database
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, Operation, SchedulerLock, Server

CANDIDATES = 5


def _jobs_on(server_id: Mapped[int | None] | int) -> ColumnElement[int]:
    """How many claimed jobs run on the server now: backups and restores or deletes (a
    restore's own safety backup runs inside it and takes no slot of its own). Counted on
    aliases: within a query over backups, they are other rows, not the outer one."""
    counted, operation, target = aliased(Backup), aliased(Operation), aliased(Backup)
    backups = (
        select(func.count())
        .select_from(counted)
        .where(
            col(counted.server_id) == server_id,
            col(counted.status) == BackupStatus.IN_PROGRESS,
            col(counted.worker_id).is_not(None),
            col(counted.trigger) != Trigger.SAFETY,
        )
        .correlate_except(counted)
        .scalar_subquery()
    )
    operations = (
        select(func.count())
        .select_from(operation)
        .join(target, col(target.id) == col(operation.backup_id))
        .where(
            col(target.server_id) == server_id,
            col(operation.status).in_(ACTIVE_OPERATION_STATUSES),
            col(operation.worker_id).is_not(None),
        )
        .correlate_except(operation, target)
        .scalar_subquery()
    )
    return backups + operations


def _has_room(server_id: Mapped[int | None]) -> ColumnElement[bool]:
    """The job's server runs fewer claimed jobs than its limit (a job with no server: always)."""
    limit = select(col(Server.max_jobs)).where(col(Server.id) == server_id).scalar_subquery()
    return or_(server_id.is_(None), _jobs_on(server_id) < limit)


async def _room_on(session: StateSession, db: Database, server_id: int | None) -> bool:
    """Counted again with the server's row locked until this claim commits (PostgreSQL), so
    that claims on one server take their turn; SQLite's write lock does that already."""
    if server_id is None:
        return True
    limit = select(col(Server.max_jobs)).where(col(Server.id) == server_id)
    if not db.is_sqlite:
        limit = limit.with_for_update()
    max_jobs = (await session.exec(limit)).first()
    if max_jobs is None:
        return True
    running = (await session.exec(select(_jobs_on(server_id)))).one()
    return int(running) < max_jobs


async def claim_backup(db: Database, worker_id: str, clock: Clock) -> int | None:
    """The oldest unclaimed queued backup on a server with room, now `worker_id`'s; None
    when there is none."""
    async with db.session() as session:
        query = (
            select(col(Backup.id), col(Backup.server_id))
            .where(
                Backup.status == BackupStatus.IN_PROGRESS,
                col(Backup.worker_id).is_(None),
                _has_room(col(Backup.server_id)),
            )
            .order_by(col(Backup.created_at), col(Backup.id))
            .limit(CANDIDATES)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=Backup)
        for backup_id, server_id in (await session.exec(query)).all():
            if not await _room_on(session, db, server_id):
                continue
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
            select(col(Operation.id), col(Backup.server_id))
            .join(Backup, col(Backup.id) == col(Operation.backup_id))
            .where(
                Operation.status == OperationStatus.QUEUED,
                col(Operation.worker_id).is_(None),
                _has_room(col(Backup.server_id)),
            )
            .order_by(col(Operation.id))
            .limit(CANDIDATES)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=Operation)
        for operation_id, server_id in (await session.exec(query)).all():
            if not await _room_on(session, db, server_id):
                continue
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
