"""What the Fleet view shows of every service at once, in a few aggregate queries
whatever the number of services (no query per service)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Result, String, Subquery, and_, case, func, type_coerce
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from dflow_tui.core.enums import BackupStatus
from dflow_tui.core.tiers import ORDER, Tier
from dflow_tui.store.db import Database
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, ScheduleTier, Service


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


class Standing(NamedTuple):
    """How one service's backups stand: what the Fleet view shows of it, as plain values."""

    service_id: int
    grace_seconds: int | None  # its own recovery-point grace (None: the default)
    tiers: tuple[Tier, ...]  # its enabled schedule tiers, in ORDER (none: the schedule is off)
    last_by_tier: tuple[datetime | None, ...]  # beside each of `tiers`, its newest kept success
    last_success: datetime | None  # its newest kept success, any tier or none (by hand, before a restore)
    latest_status: str | None  # how its newest backup not deleted ended (None: no backup)
    latest_size: int | None  # that backup's stored size
    latest_failed: bool  # its newest finished backup (deleted or not) failed


_TIER_BITS = {tier: 1 << n for n, tier in enumerate(ORDER)}
# Each set of enabled tiers by the sum of their bits, in ORDER: one shared tuple per set.
_TIER_SETS = {bits: tuple(t for t in ORDER if bits & _TIER_BITS[t]) for bits in range(1 << len(ORDER))}
_POSITION = {tier: n for n, tier in enumerate(ORDER)}


def _kept() -> ColumnElement[bool]:
    """A backup that is kept: it succeeded and is not deleted."""
    return and_(col(Backup.status) == BackupStatus.SUCCESS, col(Backup.deleted_at).is_(None))


def _newest_id(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """The id of a service's newest backup that meets `condition` (grouped by service)."""
    return func.max(case((condition, col(Backup.id))))


def _per_service(service_id: int | None, *columns: Any) -> Subquery:
    """Every service (or one) with `columns` over its backups: a single grouped pass over
    the backups table, whatever the fleet's size. Also: its grace, and whether its newest
    finished backup failed (the newest finished one is also the newest failed one)."""
    grouped = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
            col(Service.id).label("service_id"),
            col(Service.rpo_grace_seconds).label("grace"),
            *columns,
            func.max(case((_kept(), col(Backup.created_at)))).label("success"),
            (
                _newest_id(col(Backup.status) != BackupStatus.IN_PROGRESS)
                == _newest_id(col(Backup.status) == BackupStatus.FAILED)
            ).label("failed"),
        )
        .select_from(Service)
        .outerjoin(Backup, col(Backup.service_id) == col(Service.id))
        .group_by(col(Service.id), col(Service.rpo_grace_seconds))
    )
    if service_id is not None:
        grouped = grouped.where(col(Service.id) == service_id)
    return cast(Subquery, grouped.subquery())


def _tier_bits(service_id: ColumnElement[int]) -> ColumnElement[int]:
    """The sum of the bits of the service's enabled tiers (NULL: none)."""
    bits = case(*((col(ScheduleTier.tier) == tier, bit) for tier, bit in _TIER_BITS.items()))
    return select(func.sum(bits)).where(col(ScheduleTier.service_id) == service_id).scalar_subquery()


async def standings(session: StateSession, service_id: int | None = None) -> Iterator[Standing]:
    """How every service (or the one with `service_id`) stands, in one statement. Each is
    made as it is taken (take them inside the session): a fleet's worth is never held at
    once, nor built as ORM objects."""
    per_service = _per_service(
        service_id,
        *(
            func.max(case((and_(_kept(), col(Backup.schedule_tier) == tier), col(Backup.created_at)))).label(
                tier.value
            )
            for tier in ORDER
        ),
        _newest_id(col(Backup.deleted_at).is_(None)).label("newest"),
    )
    newest = aliased(Backup)
    query = select(  # type: ignore[call-overload]
        per_service.c.service_id,
        per_service.c.grace,
        _tier_bits(per_service.c.service_id),
        *(per_service.c[tier.value] for tier in ORDER),
        per_service.c.success,
        type_coerce(col(newest.status), String),  # its plain value: no enum to build per row
        func.coalesce(col(newest.stored_size_bytes), col(newest.size_bytes)),
        per_service.c.failed,
    ).outerjoin(newest, col(newest.id) == per_service.c.newest)
    return _standings(await session.plain(query))


def _standings(found: Result[*tuple[Any, ...]]) -> Iterator[Standing]:
    for service_id, grace, bits, *by_tier, success, status, size, failed in found:
        tiers = _TIER_SETS[bits or 0]
        yield Standing(
            service_id,
            grace,
            tiers,
            tuple(by_tier[_POSITION[tier]] for tier in tiers),
            success,
            status,
            size,
            bool(failed),
        )


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
