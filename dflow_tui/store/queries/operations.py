"""Operation rows (a restore or a delete acting on one backup): recording one, finding the
active one, and the two marks a cancel request and the point of no return race for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from dflow_tui.core.enums import ACTIVE_OPERATION_STATUSES, OperationKind
from dflow_tui.core.errors import Conflict
from dflow_tui.store.db import Database
from dflow_tui.store.queries import rows
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, Operation, Service


async def insert_operation(session: StateSession, operation: Operation) -> Operation:
    """Saves a new operation row and commits. The database holds one active operation per
    backup: a second one is refused as a Conflict."""
    session.add(operation)
    try:
        await session.commit()
    except IntegrityError:
        raise Conflict(f"Backup {operation.backup_id} already has an operation running") from None
    await session.refresh(operation)
    return operation


async def active_operation(session: StateSession, backup_id: int) -> Operation | None:
    """The restore or delete queued or running on the backup, if any."""
    query = select(Operation).where(
        Operation.backup_id == backup_id,
        col(Operation.status).in_(ACTIVE_OPERATION_STATUSES),
    )
    return (await session.exec(query)).first()


async def latest_operation(session: StateSession, backup_id: int) -> Operation | None:
    """The newest restore or delete of the backup, whatever its status."""
    query = (
        select(Operation).where(Operation.backup_id == backup_id).order_by(col(Operation.id).desc()).limit(1)
    )
    return (await session.exec(query)).first()


def _restored_service() -> ColumnElement[int]:
    """The service a restore imports into: its target, else its backup's own service."""
    return func.coalesce(col(Operation.target_service_id), col(Backup.service_id))


async def active_restore_of_service(session: StateSession, service_id: int) -> Operation | None:
    """A restore queued or running into the service (from any backup), if any."""
    query = (
        select(Operation)
        .join(Backup, col(Operation.backup_id) == col(Backup.id))
        .where(
            _restored_service() == service_id,
            Operation.kind == OperationKind.RESTORE,
            col(Operation.status).in_(ACTIVE_OPERATION_STATUSES),
        )
    )
    return (await session.exec(query)).first()


async def active_restores_of_services(session: StateSession, service_ids: list[int]) -> dict[int, Operation]:
    """active_restore_of_service for many services at once: service id → its restore."""
    found: dict[int, Operation] = {}
    for chunk in rows.chunks(service_ids):
        query = (
            select(_restored_service(), Operation)
            .join(Backup, col(Operation.backup_id) == col(Backup.id))
            .where(
                _restored_service().in_(chunk),
                Operation.kind == OperationKind.RESTORE,
                col(Operation.status).in_(ACTIVE_OPERATION_STATUSES),
            )
        )
        for service_id, operation in (await session.exec(query)).all():
            found[service_id] = operation
    return found


async def active_operations(session: StateSession) -> list[Operation]:
    """Every operation queued or running, whoever runs it (or nobody yet)."""
    query = select(Operation).where(col(Operation.status).in_(ACTIVE_OPERATION_STATUSES))
    return list((await session.exec(query)).all())


async def request_cancel(db: Database, operation_id: int, by: str) -> tuple[bool, Operation]:
    """Marks who asked to stop the operation, only while it is active and has not reached its
    point of no return; returns whether it did, and the row as it is now."""
    still_stoppable = [
        col(Operation.status).in_(ACTIVE_OPERATION_STATUSES),
        col(Operation.irreversible_at).is_(None),
    ]
    return await rows.update_where(db, Operation, operation_id, still_stoppable, cancel_requested_by=by)


async def mark_irreversible(
    db: Database, operation_id: int, worker_id: str, at: datetime
) -> tuple[bool, Operation]:
    """Marks the operation past its point of no return, only while this worker runs it and
    nobody asked to cancel it; returns whether it did, and the row as it is now."""
    still_ours = [
        col(Operation.worker_id) == worker_id,
        col(Operation.status).in_(ACTIVE_OPERATION_STATUSES),
        col(Operation.cancel_requested_by).is_(None),
    ]
    return await rows.update_where(db, Operation, operation_id, still_ours, irreversible_at=at)


async def drills(
    session: StateSession, service_id: int | None = None, limit: int = 1000
) -> list[tuple[Operation, int]]:
    """Drills, newest first, with the service of the backup each one drilled."""
    query = (
        select(Operation, col(Backup.service_id))
        .join(Backup, col(Operation.backup_id) == col(Backup.id))
        .where(Operation.kind == OperationKind.DRILL)
    )
    if service_id is not None:
        query = query.where(col(Backup.service_id) == service_id)
    found = await session.exec(query.order_by(col(Operation.id).desc()).limit(limit))
    return [(operation, backup_service) for operation, backup_service in found.all()]


async def drill_services(session: StateSession, server_id: int) -> dict[str, Operation]:
    """The drills on that server that made their throwaway service and have not destroyed
    it (as far as the record knows), by the service's name."""
    query = (
        select(Operation)
        .join(Backup, col(Operation.backup_id) == col(Backup.id))
        .where(
            Operation.kind == OperationKind.DRILL,
            col(Operation.drill_created_at).is_not(None),
            col(Backup.server_id) == server_id,
        )
    )
    return {
        operation.drill_service: operation
        for operation in (await session.exec(query)).all()
        if operation.drill_service
    }


async def drill_engines_on_server(session: StateSession, server_id: int) -> set[str]:
    """The engines drills ever ran with on that server (none: no drill ran there)."""
    found = await session.exec(
        select(col(Service.engine))
        .join(Backup, col(Backup.service_id) == col(Service.id))
        .join(Operation, col(Operation.backup_id) == col(Backup.id))
        .where(col(Backup.server_id) == server_id, Operation.kind == OperationKind.DRILL)
        .distinct()
    )
    return {str(engine) for engine in found.all()}
