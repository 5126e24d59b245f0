"""Atomic claims: any number of processes on one state database, each job run once.

A job is claimed by setting its worker_id where it is still NULL; the row count
says who won. On PostgreSQL, candidates are read `FOR UPDATE SKIP LOCKED` so
workers on several hosts do not queue behind each other's locks.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select

from dflow_tui.core.enums import BackupStatus, OperationStatus
from dflow_tui.jobs.context import JobContext
from dflow_tui.store.tables import Backup, Operation, SchedulerLock

CANDIDATES = 5


def _skip_locked(query, ctx: JobContext):
    return query if ctx.db.is_sqlite else query.with_for_update(skip_locked=True)


async def claim_backup(ctx: JobContext) -> int | None:
    """The oldest unclaimed queued backup, now ours; None when there is none."""
    async with ctx.db.session() as session:
        query = (
            select(Backup.id)
            .where(Backup.status == BackupStatus.IN_PROGRESS, col(Backup.worker_id).is_(None))
            .order_by(Backup.created_at, Backup.id)
            .limit(CANDIDATES)
        )
        for backup_id in (await session.exec(_skip_locked(query, ctx))).all():
            now = ctx.clock.now()
            result = await session.exec(
                update(Backup)
                .where(Backup.id == backup_id, col(Backup.worker_id).is_(None))
                .values(worker_id=ctx.worker_id, started_at=now, heartbeat_at=now)
            )
            if result.rowcount == 1:
                await session.commit()
                return backup_id
        await session.rollback()
    return None


async def claim_operation(ctx: JobContext) -> Operation | None:
    async with ctx.db.session() as session:
        query = (
            select(Operation.id)
            .where(Operation.status == OperationStatus.QUEUED, col(Operation.worker_id).is_(None))
            .order_by(Operation.id)
            .limit(CANDIDATES)
        )
        for operation_id in (await session.exec(_skip_locked(query, ctx))).all():
            result = await session.exec(
                update(Operation)
                .where(Operation.id == operation_id, col(Operation.worker_id).is_(None))
                .values(worker_id=ctx.worker_id, heartbeat_at=ctx.clock.now())
            )
            if result.rowcount == 1:
                await session.commit()
                return await session.get(Operation, operation_id)
        await session.rollback()
    return None


async def acquire_scheduler(ctx: JobContext, ttl) -> bool:
    """Only one scheduler pass at a time, across processes and hosts."""
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        result = await session.exec(
            update(SchedulerLock)
            .where(
                SchedulerLock.id == 1,
                (col(SchedulerLock.holder).is_(None))
                | (col(SchedulerLock.expires_at) < now)
                | (SchedulerLock.holder == ctx.worker_id),
            )
            .values(holder=ctx.worker_id, expires_at=now + ttl)
        )
        await session.commit()
        return result.rowcount == 1


async def release_scheduler(ctx: JobContext) -> None:
    async with ctx.db.session() as session:
        await session.exec(
            update(SchedulerLock)
            .where(SchedulerLock.id == 1, SchedulerLock.holder == ctx.worker_id)
            .values(holder=None, expires_at=None)
        )
        await session.commit()
