"""What the Fleet view shows of every service at once, in a few aggregate queries
whatever the number of services (no query per service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from dflow_tui.core.enums import BackupStatus
from dflow_tui.core.tiers import Tier
from dflow_tui.store.db import Database
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, ScheduleTier, Service


async def last_successes(session: StateSession) -> dict[int, dict[Tier | None, datetime]]:
    """Service → tier → when its newest kept success of that tier was made (key None: the
    newest backup taken by hand or before a restore). One grouped read for the fleet."""
    query = (
        select(col(Backup.service_id), col(Backup.schedule_tier), func.max(col(Backup.created_at)))
        .where(col(Backup.status) == BackupStatus.SUCCESS, col(Backup.deleted_at).is_(None))
        .group_by(col(Backup.service_id), col(Backup.schedule_tier))
    )
    found: dict[int, dict[Tier | None, datetime]] = {}
    for service_id, tier, when in (await session.exec(query)).all():
        if when is not None:
            found.setdefault(service_id, {})[tier] = when
    return found


async def latest_finished_failed(session: StateSession) -> set[int]:
    """The services whose newest finished backup failed."""
    newest = (
        select(func.max(col(Backup.id)))
        .where(col(Backup.status) != BackupStatus.IN_PROGRESS)
        .group_by(col(Backup.service_id))
        .scalar_subquery()
    )
    query = select(col(Backup.service_id)).where(
        col(Backup.id).in_(newest), col(Backup.status) == BackupStatus.FAILED
    )
    return set((await session.exec(query)).all())


async def last_durations(session: StateSession) -> dict[int, float]:
    """Service → how many seconds its newest successful backup took, queue to finish."""
    newest = (
        select(func.max(col(Backup.id)))
        .where(col(Backup.status) == BackupStatus.SUCCESS, col(Backup.finished_at).is_not(None))
        .group_by(col(Backup.service_id))
        .scalar_subquery()
    )
    query = select(
        col(Backup.service_id), col(Backup.created_at), col(Backup.started_at), col(Backup.finished_at)
    ).where(col(Backup.id).in_(newest))
    found: dict[int, float] = {}
    for service_id, created, started, finished in (await session.exec(query)).all():
        began = started or created
        if began is not None and finished is not None:
            found[service_id] = max((finished - began).total_seconds(), 0.0)
    return found


async def backup_counts(session: StateSession) -> tuple[dict[str, int], int, int]:
    """Backups by status (deleted ones included: they happened), and of those in progress,
    how many a process runs and how many wait in the queue."""
    by_status = {
        str(status): count
        for status, count in (
            await session.exec(select(col(Backup.status), func.count()).group_by(col(Backup.status)))
        ).all()
    }
    running = (
        await session.exec(
            select(func.count()).where(
                col(Backup.status) == BackupStatus.IN_PROGRESS, col(Backup.worker_id).is_not(None)
            )
        )
    ).one()
    return by_status, int(running), by_status.get(BackupStatus.IN_PROGRESS.value, 0) - int(running)


async def graces(session: StateSession) -> dict[int, int]:
    """Service → its own recovery-point grace in seconds (the others use the default)."""
    query = select(col(Service.id), col(Service.rpo_grace_seconds)).where(
        col(Service.rpo_grace_seconds).is_not(None)
    )
    return {
        service_id: seconds
        for service_id, seconds in (await session.exec(query)).all()
        if service_id is not None and seconds is not None
    }


async def latest_backups(session: StateSession) -> dict[int, tuple[BackupStatus, int | None]]:
    """Service → how its newest backup not deleted ended, and its stored size."""
    newest = (
        select(func.max(col(Backup.id)))
        .where(col(Backup.deleted_at).is_(None))
        .group_by(col(Backup.service_id))
        .scalar_subquery()
    )
    query = select(
        col(Backup.service_id),
        col(Backup.status),
        func.coalesce(col(Backup.stored_size_bytes), col(Backup.size_bytes)),
    ).where(col(Backup.id).in_(newest))
    return {service_id: (status, size) for service_id, status, size in (await session.exec(query)).all()}


async def scheduled_facts(db: Database) -> list[tuple[int, int | None, datetime | None, datetime | None]]:
    """Every scheduled service: (id, its grace in seconds, when its schedule began, its
    newest kept success) — one grouped read for the fleet."""
    newest = (
        select(col(Backup.service_id), func.max(col(Backup.created_at)).label("newest"))
        .where(col(Backup.status) == BackupStatus.SUCCESS, col(Backup.deleted_at).is_(None))
        .group_by(col(Backup.service_id))
        .subquery()
    )
    scheduled = select(col(ScheduleTier.service_id)).distinct().scalar_subquery()
    query = (
        select(
            col(Service.id),
            col(Service.rpo_grace_seconds),
            func.coalesce(col(Service.schedule_since), col(Service.created_at)),
            newest.c.newest,
        )
        .outerjoin(newest, newest.c.service_id == col(Service.id))
        .where(col(Service.id).in_(scheduled))
    )
    async with db.reading() as session:
        return [
            (service_id, grace, since, last)
            for service_id, grace, since, last in (await session.exec(query)).all()
            if service_id is not None
        ]
