"""Rows of jobs that were recorded but never run, for tests that need one to be
"in progress" or "queued" while nothing works on it (a process that died, say)."""

from __future__ import annotations

from dflow_tui.core.enums import OperationKind, OperationStatus, Trigger
from dflow_tui.jobs.enqueue import record_backup
from dflow_tui.service import Dflow
from dflow_tui.store.tables import Backup, Operation


async def claimed_backup(
    app: Dflow, path: str, *, trigger: Trigger = Trigger.MANUAL, tier: str | None = None
) -> Backup:
    """A backup recorded as in progress and claimed by this process, which never runs it."""
    service = await app.inventory.get_service(path)
    return await record_backup(app.ctx, service.id, trigger=trigger, tier=tier, actor=app.actor, claimed=True)


async def queued_operation(
    app: Dflow, backup_id: int, kind: OperationKind = OperationKind.RESTORE
) -> Operation:
    """A restore (or delete) recorded as queued, claimed by this process, never run."""
    async with app.db.session() as session:
        operation = Operation(
            backup_id=backup_id,
            kind=kind,
            status=OperationStatus.QUEUED,
            requested_by=app.actor,
            worker_id=app.ctx.worker_id,
            created_at=app.clock.now(),
        )
        session.add(operation)
        await session.commit()
        await session.refresh(operation)
        return operation
