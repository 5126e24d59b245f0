"""Drills as the fleet sees them, in a few grouped queries whatever the number of
services: what the scheduler reads to queue them (one query when no service drills on a
schedule), and how each service's drills stand (proven restorable, or a failed drill)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from dflow_tui.core.enums import ACTIVE_OPERATION_STATUSES, BackupStatus, OperationKind, OperationStatus
from dflow_tui.core.policy import DrillFacts
from dflow_tui.store.db import Database
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, Operation, Service


async def scheduled_drill_facts(db: Database) -> tuple[list[DrillFacts], set[int]]:
    """Per service with a drill schedule, its facts (core.policy.DrillFacts); and the
    servers where a drill is queued or running."""
    async with db.reading() as session:
        scheduled = col(Service.drill_every).is_not(None)
        every = {
            service_id: tier
            for service_id, tier in (
                await session.exec(select(col(Service.id), col(Service.drill_every)).where(scheduled))
            ).all()
            if service_id is not None and tier is not None
        }
        if not every:
            return [], set()
        last_drill = dict(
            (
                await session.exec(
                    select(col(Backup.service_id), func.max(col(Operation.created_at)))
                    .join(Backup, col(Backup.id) == col(Operation.backup_id))
                    .join(Service, col(Service.id) == col(Backup.service_id))
                    .where(col(Operation.kind) == OperationKind.DRILL, scheduled)
                    .group_by(col(Backup.service_id))
                )
            ).all()
        )
        newest = (
            select(func.max(col(Backup.id)))
            .join(Service, col(Service.id) == col(Backup.service_id))
            .where(col(Backup.status) == BackupStatus.SUCCESS, col(Backup.deleted_at).is_(None), scheduled)
            .group_by(col(Backup.service_id))
        )
        newest_success = {
            service_id: (backup_id, server_id)
            for service_id, backup_id, server_id in (
                await session.exec(
                    select(col(Backup.service_id), col(Backup.id), col(Backup.server_id)).where(
                        col(Backup.id).in_(newest)
                    )
                )
            ).all()
        }
        in_progress = set(
            (
                await session.exec(
                    select(col(Backup.service_id))
                    .join(Service, col(Service.id) == col(Backup.service_id))
                    .where(col(Backup.status) == BackupStatus.IN_PROGRESS, scheduled)
                    .distinct()
                )
            ).all()
        )
        active = (
            await session.exec(
                select(col(Operation.backup_id), col(Operation.kind), col(Backup.server_id))
                .join(Backup, col(Backup.id) == col(Operation.backup_id))
                .where(col(Operation.status).in_(ACTIVE_OPERATION_STATUSES))
            )
        ).all()
    operating = {backup_id for backup_id, _, _ in active}
    drilling = {
        server_id for _, kind, server_id in active if kind == OperationKind.DRILL and server_id is not None
    }
    facts = []
    for service_id, tier in every.items():
        backup_id, server_id = newest_success.get(service_id, (None, None))
        facts.append(
            DrillFacts(
                service_id=service_id,
                every=tier,
                last_drill=last_drill.get(service_id),
                backup_id=backup_id,
                server_id=server_id,
                busy=service_id in in_progress or backup_id in operating,
            )
        )
    return facts, drilling


@dataclass(frozen=True)
class DrillStanding:
    """How a service's drills stand: its newest passed drill, and whether its newest
    finished drill failed (and why)."""

    proven_at: datetime | None  # when the newest passed drill finished
    proven_backup_id: int | None  # the backup it restored
    last_failed: bool
    last_error: str | None


NOT_DRILLED = DrillStanding(None, None, False, None)


async def drill_standing(session: StateSession, service_id: int | None = None) -> dict[int, DrillStanding]:
    """Per service that has a finished drill (or just `service_id`), in one read."""

    def newest(statuses: tuple[OperationStatus, ...]) -> Any:
        query = (
            select(func.max(col(Operation.id)))
            .join(Backup, col(Backup.id) == col(Operation.backup_id))
            .where(col(Operation.kind) == OperationKind.DRILL, col(Operation.status).in_(statuses))
        )
        if service_id is not None:
            query = query.where(col(Backup.service_id) == service_id)
        return query.group_by(col(Backup.service_id))

    passed = newest((OperationStatus.SUCCEEDED,))
    ended = newest((OperationStatus.SUCCEEDED, OperationStatus.FAILED))
    found = (
        await session.exec(
            select(col(Backup.service_id), Operation)
            .join(Backup, col(Backup.id) == col(Operation.backup_id))
            .where(col(Operation.id).in_(passed) | col(Operation.id).in_(ended))
            .order_by(col(Operation.id))
        )
    ).all()
    standing: dict[int, DrillStanding] = {}
    for owner, drill in found:  # oldest first: the newest wins
        known = standing.get(owner, NOT_DRILLED)
        failed = drill.status == OperationStatus.FAILED
        if not failed:
            known = replace(known, proven_at=drill.finished_at, proven_backup_id=drill.backup_id)
        standing[owner] = replace(known, last_failed=failed, last_error=drill.error if failed else None)
    return standing
