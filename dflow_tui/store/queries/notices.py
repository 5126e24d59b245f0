"""Notifiers, incidents and the messages waiting for delivery.

Exactly once across workers comes from the database, not from luck: an incident opens
by an INSERT that a unique partial index lets only one writer make, closes and reminds
by conditional UPDATEs, and its messages are written in that same transaction. A
message is delivered by whoever claims it with a conditional UPDATE (a lease, so that a
worker that died mid-delivery leaves it to another).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from dflow_tui.core.enums import IncidentKind
from dflow_tui.core.errors import NotFound
from dflow_tui.store.db import Database
from dflow_tui.store.tables import Incident, Notification, Notifier


def _stamped(messages: Sequence[Notification], now: datetime) -> list[Notification]:
    """New messages, made now and due at once."""
    for message in messages:
        message.created_at = message.next_attempt_at = now
    return list(messages)


# --- notifiers --------------------------------------------------------------------


async def list_notifiers(db: Database) -> list[Notifier]:
    async with db.reading() as session:
        return list((await session.exec(select(Notifier).order_by(col(Notifier.name)))).all())


async def find_notifier(db: Database, name: str) -> Notifier | None:
    async with db.reading() as session:
        return (await session.exec(select(Notifier).where(col(Notifier.name) == name))).first()


async def notifier_named(db: Database, name: str) -> Notifier:
    found = await find_notifier(db, name)
    if found is None:
        raise NotFound(f"No notifier named {name!r} (see `dflow-tui notify list`)")
    return found


async def remove_notifier(db: Database, notifier_id: int) -> None:
    """The notifier and every message it still had to deliver, in one transaction."""
    async with db.session() as session:
        await session.exec(delete(Notification).where(col(Notification.notifier_id) == notifier_id))
        await session.exec(delete(Notifier).where(col(Notifier.id) == notifier_id))
        await session.commit()


# --- incidents ----------------------------------------------------------------------


async def open_incident(
    db: Database,
    service_id: int,
    kind: IncidentKind,
    detail: str | None,
    now: datetime,
    messages: Sequence[Notification],
) -> bool:
    """Opens the service's incident of this kind with its messages; False (and nothing
    written) when one is already open — another worker saw it first, or it goes on."""
    async with db.session() as session:
        session.add(Incident(service_id=service_id, kind=kind, detail=detail, opened_at=now, reminded_at=now))
        session.add_all(_stamped(messages, now))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return False
        return True


async def open_incidents(db: Database, service_id: int | None = None) -> list[Incident]:
    query = select(Incident).where(col(Incident.closed_at).is_(None))
    if service_id is not None:
        query = query.where(col(Incident.service_id) == service_id)
    async with db.reading() as session:
        return list((await session.exec(query.order_by(col(Incident.id)))).all())


async def update_detail(db: Database, service_id: int, kind: IncidentKind, detail: str) -> None:
    """The latest error of an incident that goes on (what its next reminder says)."""
    async with db.session() as session:
        await session.exec(
            update(Incident)
            .where(
                col(Incident.service_id) == service_id,
                col(Incident.kind) == kind,
                col(Incident.closed_at).is_(None),
            )
            .values(detail=detail)
        )
        await session.commit()


async def close_incidents(
    db: Database, service_id: int, now: datetime, kinds: Collection[IncidentKind]
) -> list[Incident]:
    """Closes the service's open incidents of these kinds; returns those this call closed
    (none when another worker closed them first), in the transaction that writes nothing else."""
    async with db.session() as session:
        found = (
            await session.exec(
                select(Incident).where(
                    col(Incident.service_id) == service_id,
                    col(Incident.closed_at).is_(None),
                    col(Incident.kind).in_(list(kinds)),
                )
            )
        ).all()
        closed = []
        for incident in found:
            result = await session.exec(
                update(Incident)
                .where(col(Incident.id) == incident.id, col(Incident.closed_at).is_(None))
                .values(closed_at=now)
            )
            if result.rowcount == 1:
                closed.append(incident)
        await session.commit()
        return closed


async def enqueue(db: Database, messages: Sequence[Notification], now: datetime) -> None:
    if not messages:
        return
    async with db.session() as session:
        session.add_all(_stamped(messages, now))
        await session.commit()


async def remind(db: Database, incident: Incident, now: datetime, messages: Sequence[Notification]) -> bool:
    """Marks the incident reminded at `now`, with its messages, unless another worker
    reminded it (or it closed) since it was read."""
    async with db.session() as session:
        result = await session.exec(
            update(Incident)
            .where(
                col(Incident.id) == incident.id,
                col(Incident.closed_at).is_(None),
                col(Incident.reminded_at) == incident.reminded_at,
            )
            .values(reminded_at=now)
        )
        if result.rowcount != 1:
            await session.rollback()
            return False
        session.add_all(_stamped(messages, now))
        await session.commit()
        return True


# --- delivery -----------------------------------------------------------------------


def _pending() -> ColumnElement[bool]:
    return and_(col(Notification.sent_at).is_(None), col(Notification.given_up_at).is_(None))


async def claim_due(
    db: Database, worker_id: str, now: datetime, lease_until: datetime, limit: int = 50
) -> list[Notification]:
    """Claims up to `limit` messages due for a try, oldest first; each is claimed by one
    worker only (a lease that a dead worker's claim runs out of)."""
    free = or_(col(Notification.claimed_until).is_(None), col(Notification.claimed_until) < now)
    due = and_(_pending(), col(Notification.next_attempt_at) <= now, free)
    async with db.reading() as session:  # most polls find nothing: no write lock for them
        ids = (
            await session.exec(
                select(col(Notification.id)).where(due).order_by(col(Notification.id)).limit(limit)
            )
        ).all()
    if not ids:
        return []
    async with db.session() as session:
        claimed = []
        for message_id in ids:
            result = await session.exec(
                update(Notification)
                .where(col(Notification.id) == message_id, due)
                .values(claimed_by=worker_id, claimed_until=lease_until)
            )
            if result.rowcount == 1:
                claimed.append(message_id)
        await session.commit()
        if not claimed:
            return []
        found = await session.exec(
            select(Notification).where(col(Notification.id).in_(claimed)).order_by(col(Notification.id))
        )
        return list(found.all())


async def settle(
    db: Database,
    message_id: int,
    worker_id: str,
    *,
    sent_at: datetime | None = None,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    given_up_at: datetime | None = None,
) -> None:
    """Records a try of a message this worker claimed: sent, or failed (with when to try
    again, or that it is given up)."""
    async with db.session() as session:
        await session.exec(
            update(Notification)
            .where(col(Notification.id) == message_id, col(Notification.claimed_by) == worker_id)
            .values(
                attempts=Notification.attempts + 1,
                sent_at=sent_at,
                last_error=error,
                next_attempt_at=next_attempt_at,
                given_up_at=given_up_at,
                claimed_by=None,
                claimed_until=None,
            )
        )
        await session.commit()


@dataclass(frozen=True)
class Delivery:
    """How one notifier's messages stand."""

    pending: int  # waiting to be delivered (first try or a retry)
    failing: int  # of those, tried and not delivered yet
    given_up: int
    last_sent: datetime | None
    last_error: str | None


async def deliveries(db: Database) -> dict[int, Delivery]:
    """Notifier id → how its messages stand, in three grouped reads."""
    counts = select(
        col(Notification.notifier_id),
        func.count().filter(_pending()),
        func.count().filter(and_(_pending(), col(Notification.attempts) > 0)),
        func.count().filter(col(Notification.given_up_at).is_not(None)),
    ).group_by(col(Notification.notifier_id))
    sent = select(col(Notification.notifier_id), func.max(col(Notification.sent_at))).group_by(
        col(Notification.notifier_id)
    )
    errors = (
        select(col(Notification.notifier_id), col(Notification.last_error))
        .where(col(Notification.sent_at).is_(None), col(Notification.last_error).is_not(None))
        .order_by(col(Notification.id))
    )
    async with db.reading() as session:
        found = (await session.exec(counts)).all()
        last_sent = dict((await session.exec(sent)).all())
        last_errors = dict((await session.exec(errors)).all())
    return {
        notifier_id: Delivery(
            int(pending),
            int(failing),
            int(given_up),
            last_sent.get(notifier_id),
            last_errors.get(notifier_id),
        )
        for notifier_id, pending, failing, given_up in found
    }


async def undelivered(db: Database, since: datetime) -> int:
    """Messages made since `since` that were tried and not delivered (being retried, or
    given up), across every notifier."""
    async with db.reading() as session:
        count = (
            await session.exec(
                select(func.count()).where(
                    col(Notification.sent_at).is_(None),
                    col(Notification.attempts) > 0,
                    col(Notification.created_at) >= since,
                )
            )
        ).one()
    return int(count)
