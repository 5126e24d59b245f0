"""A worker's own row: when it started, its heartbeat, when it stopped."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from dflow_tui.core.enums import WorkerKind
from dflow_tui.store.db import Database
from dflow_tui.store.tables import WorkerRecord


async def register(db: Database, worker_id: str, kind: WorkerKind, now: datetime) -> None:
    """The worker starts (again): its row says so, whatever an earlier run left there."""
    async with db.session() as session:
        record = await session.get(WorkerRecord, worker_id) or WorkerRecord(id=worker_id)
        record.kind, record.started_at, record.heartbeat_at, record.stopped_at = kind, now, now, None
        session.add(record)
        await session.commit()


async def beat(db: Database, worker_id: str, now: datetime) -> None:
    async with db.session() as session:
        record = await session.get(WorkerRecord, worker_id)
        if record is not None:
            record.heartbeat_at = now
            session.add(record)
            await session.commit()


async def mark_stopped(db: Database, worker_id: str, now: datetime) -> None:
    async with db.session() as session:
        record = await session.get(WorkerRecord, worker_id)
        if record is not None:
            record.stopped_at = now
            session.add(record)
            await session.commit()


async def last_seen(db: Database, *, besides: str | None = None) -> datetime | None:
    """The newest heartbeat of any worker or open app (a `worker --once` run counts too),
    other than the worker `besides`."""
    query = select(func.max(col(WorkerRecord.heartbeat_at)))
    if besides is not None:
        query = query.where(col(WorkerRecord.id) != besides)
    async with db.reading() as session:
        return (await session.exec(query)).one()
