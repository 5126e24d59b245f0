"""Which tiers each service runs, and its backoff after failed scheduled runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, case, delete, func, literal, or_
from sqlmodel import col, select

from dflow_tui.core.enums import BackupStatus, Trigger
from dflow_tui.core.tiers import Tier
from dflow_tui.store.db import Database
from dflow_tui.store.queries import rows
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, ScheduleTier, Service
from dflow_tui.store.types import UTCDateTime


async def tiers_by_service(db: Database) -> dict[int, list[Tier]]:
    """The enabled tiers of every service that has one (no entry: its schedule is off)."""
    async with db.reading() as session:
        enabled = (await session.exec(select(col(ScheduleTier.service_id), col(ScheduleTier.tier)))).all()
    schedules: dict[int, list[Tier]] = defaultdict(list)
    for service_id, tier in enabled:
        schedules[service_id].append(tier)
    return schedules


def _inline(value: StrEnum) -> Any:
    return literal(value.value, String(), literal_execute=True)


async def due_by_service(db: Database, now: datetime, cutoffs: dict[Tier, datetime]) -> dict[int, list[Tier]]:
    """Every service's due tiers, in one query whatever the number of services: an enabled
    tier whose last kept scheduled success is at or before its cutoff (or that never
    succeeded), of a service that is not backing off and has no backup in progress.

    `cutoffs`: for each tier, `now` less its interval (see core.policy.due_cutoffs).

    The statuses are written into the SQL, not bound: PostgreSQL then uses the partial
    indexes made for exactly these reads (a bound value hides which rows they cover, and
    at 100,000 services a plan without them ran for minutes)."""
    last_success = (
        select(func.max(col(Backup.created_at)))
        .where(
            col(Backup.service_id) == col(ScheduleTier.service_id),
            col(Backup.schedule_tier) == col(ScheduleTier.tier),
            col(Backup.trigger) == _inline(Trigger.SCHEDULED),
            col(Backup.status) == _inline(BackupStatus.SUCCESS),
            col(Backup.deleted_at).is_(None),
        )
        .scalar_subquery()
    )
    cutoff = case(
        *((col(ScheduleTier.tier) == tier, literal(when, UTCDateTime())) for tier, when in cutoffs.items()),
        else_=literal(None, UTCDateTime()),
    )
    running = (
        select(col(Backup.id))
        .where(
            col(Backup.service_id) == col(ScheduleTier.service_id),
            col(Backup.status) == _inline(BackupStatus.IN_PROGRESS),
        )
        .exists()
    )
    query = (
        select(col(ScheduleTier.service_id), col(ScheduleTier.tier))
        .join(Service, col(Service.id) == col(ScheduleTier.service_id))
        .where(
            or_(col(Service.retry_after).is_(None), col(Service.retry_after) <= now),
            ~running,
            or_(last_success.is_(None), last_success <= cutoff),
        )
        .order_by(col(ScheduleTier.service_id))
    )
    due: dict[int, list[Tier]] = defaultdict(list)
    async with db.reading() as session:
        for service_id, tier in (await session.exec(query)).all():
            due[service_id].append(tier)
    return dict(due)


async def tiers_of(session: StateSession, service_id: int) -> list[Tier]:
    """The service's enabled tiers (none: its schedule is off)."""
    query = select(col(ScheduleTier.tier)).where(ScheduleTier.service_id == service_id)
    return list((await session.exec(query)).all())


async def replace_tiers(
    session: StateSession, service: Service, tiers: Iterable[Tier], now: datetime
) -> None:
    """Saves exactly these tiers for the service, clears its backoff, and commits; a
    schedule turned on counts from `now` (schedule_since), one turned off from nothing."""
    service_id = rows.saved_id(service.id)
    was_on = bool(await tiers_of(session, service_id))
    await session.exec(delete(ScheduleTier).where(col(ScheduleTier.service_id) == service_id))
    chosen = list(tiers)
    for tier in chosen:
        session.add(ScheduleTier(service_id=service_id, tier=tier))
    since = (service.schedule_since if was_on else now) if chosen else None
    await rows.save(
        session, service, schedule_failures=0, schedule_error=None, retry_after=None, schedule_since=since
    )


async def record_outcome(
    db: Database,
    service_id: int,
    error: str | None,
    next_attempt: Callable[[int, Sequence[Tier]], datetime],
) -> None:
    """After a scheduled run: success (`error` None) clears the service's backoff; a failure
    counts one more and sets when to try again, `next_attempt(failures, enabled tiers)`.
    Read and written in one transaction, so concurrent outcomes all count."""
    async with db.session() as session:
        service = await rows.get(session, Service, service_id)
        if error is None:
            await rows.save(session, service, schedule_failures=0, schedule_error=None, retry_after=None)
            return
        failures = service.schedule_failures + 1
        retry_after = next_attempt(failures, await tiers_of(session, service_id))
        await rows.save(
            session, service, schedule_failures=failures, schedule_error=error, retry_after=retry_after
        )
