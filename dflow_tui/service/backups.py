"""Backups of one database service: create, list, restore, delete.

Each action has two halves: a quick, checked step that records the intent (a
backup row, an operation row) and the job that carries it out. The CLI awaits
both; the TUI records, then runs the job in the background and watches the row.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import case, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from dflow_tui.core.enums import (
    ACTIVE_OPERATION_STATUSES,
    BackupStatus,
    OperationKind,
    OperationStatus,
    Trigger,
)
from dflow_tui.core.errors import Conflict, DflowError, NotFound
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import delete_refusal, refuse, restore_refusal
from dflow_tui.core.views import BackupView, OperationView
from dflow_tui.jobs.backup import run_backup
from dflow_tui.jobs.cancel import request_backup_cancel, request_operation_cancel
from dflow_tui.jobs.context import JobContext, ProgressCallback, report
from dflow_tui.jobs.delete import run_delete
from dflow_tui.jobs.enqueue import record_backup
from dflow_tui.jobs.restore import run_restore
from dflow_tui.service import lookup
from dflow_tui.service.access import Access
from dflow_tui.store.tables import Backup, Environment, Operation, Project, Service


def operation_view(operation: Operation) -> OperationView:
    return OperationView(
        id=operation.id,
        backup_id=operation.backup_id,
        kind=operation.kind,
        status=operation.status,
        error=operation.error,
    )


def backup_view(backup: Backup, path: str, operation: Operation | None) -> BackupView:
    location = backup.file_path
    if backup.object_key:
        location = f"s3://{backup.bucket}/{backup.object_key}"
    return BackupView(
        id=backup.id,
        service_path=path,
        type=backup.type,
        status=backup.status,
        trigger=backup.trigger,
        schedule_tier=backup.schedule_tier,
        created_at=backup.created_at,
        finished_at=backup.finished_at,
        size_bytes=backup.size_bytes,
        sha256=backup.sha256,
        error=backup.error,
        location=location,
        requested_by=backup.requested_by,
        operation_kind=operation.kind if operation else None,
        operation_status=operation.status if operation else None,
        operation_error=operation.error if operation else None,
        cancel_requested_by=_cancel_requested_by(backup, operation),
        operation_irreversible=bool(
            operation and operation.irreversible_at and operation.status in ACTIVE_OPERATION_STATUSES
        ),
    )


def _cancel_requested_by(backup, operation) -> str | None:
    if backup.status == BackupStatus.IN_PROGRESS:
        return backup.cancel_requested_by
    if operation is not None and operation.status in ACTIVE_OPERATION_STATUSES:
        return operation.cancel_requested_by
    return None


def _status_counts(column, statuses: list[str]) -> list:
    return [func.sum(case((column == status, 1), else_=0)) for status in statuses]


class Backups:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.db = ctx.db
        self.access = access
        self.actor = access.login

    # --- create ----------------------------------------------------------

    async def create(
        self, path: str, *, trigger: Trigger = Trigger.MANUAL, tier: str | None = None
    ) -> BackupView:
        """Records an in-progress backup, claimed by this process. Checks come first:
        a refused request leaves no row behind."""
        await self.access.require(Permission.CREATE, "backup.create", service_path=path)
        async with self.db.session() as session:
            rows = await lookup.service_by_path(session, path)
        try:
            backup = await record_backup(
                self.ctx, rows.service.id, trigger=trigger, tier=tier, actor=self.actor, claimed=True
            )
        except DflowError as refusal:
            await self.access.audit("backup.create", "refused", service_path=path, detail=str(refusal))
            raise
        return backup_view(backup, path, None)

    async def run(self, backup_id: int, on_progress: ProgressCallback | None = None) -> BackupView:
        finished = await run_backup(self.ctx, backup_id, on_progress)
        view = await self.get(backup_id)
        await self.access.audit(
            "backup.create",
            finished.status,
            service_path=view.service_path,
            target=f"backup {backup_id}",
            detail=finished.error or view.location,
        )
        return view

    async def create_and_run(self, path: str, on_progress: ProgressCallback | None = None) -> BackupView:
        backup = await self.create(path)
        report(on_progress, f"backup {backup.id}", f"created backup {backup.id} of {path}")
        return await self.run(backup.id, on_progress)

    # --- read ------------------------------------------------------------

    async def list(self, path: str | None = None, *, include_deleted: bool = False) -> list[BackupView]:
        """Newest first. Read as plain rows, not ORM objects: this runs every second in the
        TUI, over tens of thousands of rows."""
        await self.access.require(Permission.READ, "backup.list", service_path=path)
        backups = Backup.__table__
        operations = Operation.__table__
        async with self.db.reading() as session:
            paths = await self._service_paths(session)
            backup_filter = []
            if path is not None:
                rows = await lookup.service_by_path(session, path)
                backup_filter.append(backups.c.service_id == rows.service.id)
            if not include_deleted:
                backup_filter.append(backups.c.deleted_at.is_(None))
            results = (
                await session.exec(
                    sa.select(backups)
                    .where(*backup_filter)
                    .order_by(backups.c.created_at.desc(), backups.c.id.desc())
                )
            ).all()
            latest = {}
            for operation in (
                await session.exec(
                    sa.select(operations)
                    .join(backups, operations.c.backup_id == backups.c.id)
                    .where(*backup_filter)
                    .order_by(operations.c.id)
                )
            ).all():
                latest[operation.backup_id] = operation
        return [backup_view(row, paths[row.service_id], latest.get(row.id)) for row in results]

    async def revision(self, path: str | None = None) -> tuple:
        """A cheap fingerprint of the backup list: it changes whenever `list` would.

        A live view polls this every second and fetches the list only when it moved."""
        await self.access.require(Permission.READ, "backup.list", service_path=path)
        backups = Backup.__table__
        operations = Operation.__table__
        async with self.db.reading() as session:
            where = []
            if path is not None:
                rows = await lookup.service_by_path(session, path)
                where.append(backups.c.service_id == rows.service.id)
            mine = (
                await session.exec(
                    sa.select(
                        func.count(),
                        func.max(backups.c.id),
                        func.max(backups.c.finished_at),
                        func.max(backups.c.deleted_at),
                        func.max(backups.c.started_at),
                        func.count(backups.c.deleted_at),
                        func.count(backups.c.error),
                        func.count(backups.c.cancel_requested_by),
                        *_status_counts(backups.c.status, [s.value for s in BackupStatus]),
                    ).where(*where)
                )
            ).one()
            ops = (
                await session.exec(
                    sa.select(
                        func.count(),
                        func.max(operations.c.id),
                        func.max(operations.c.finished_at),
                        func.max(operations.c.started_at),
                        func.count(operations.c.cancel_requested_by),
                        func.count(operations.c.irreversible_at),
                        *_status_counts(operations.c.status, [s.value for s in OperationStatus]),
                    )
                    .select_from(operations.join(backups, operations.c.backup_id == backups.c.id))
                    .where(*where)
                )
            ).one()
        return tuple(mine) + tuple(ops)

    async def _service_paths(self, session) -> dict[int, str]:
        query = (
            select(Service.id, Project.name, Environment.name, Service.name)
            .join(Environment, Service.environment_id == Environment.id)
            .join(Project, Environment.project_id == Project.id)
        )
        return {sid: f"{p}/{e}/{n}" for sid, p, e, n in (await session.exec(query)).all()}

    async def _latest_operations(self, session, backup_ids: list[int]) -> dict[int, Operation]:
        if not backup_ids:
            return {}
        latest: dict[int, Operation] = {}
        query = select(Operation).where(col(Operation.backup_id).in_(backup_ids)).order_by(Operation.id)
        for operation in (await session.exec(query)).all():
            latest[operation.backup_id] = operation
        return latest

    async def get(self, backup_id: int) -> BackupView:
        await self.access.require(Permission.READ, "backup.list", target=f"backup {backup_id}")
        async with self.db.reading() as session:
            backup = await session.get(Backup, backup_id)
            if backup is None:
                raise NotFound(f"No backup with id {backup_id} (see `dflow-tui backup list`)")
            rows = await lookup.service_rows(session, backup.service_id)
            operation = (await self._latest_operations(session, [backup_id])).get(backup_id)
        return backup_view(backup, rows.path, operation)

    # --- cancel ----------------------------------------------------------

    async def cancel(self, backup_id: int) -> str:
        """Asks the job working on this backup to stop: the backup itself while it runs,
        else the restore or delete running on it (until its point of no return).
        Returns what will happen, in a sentence."""
        async with self.db.reading() as session:
            backup = await session.get(Backup, backup_id)
            if backup is None:
                raise NotFound(f"No backup with id {backup_id} (see `dflow-tui backup list`)")
            operation = await self._active_operation(session, backup_id)
            path = (await lookup.service_rows(session, backup.service_id)).path
        where = {"service_path": path, "target": f"backup {backup_id}"}
        if backup.status == BackupStatus.IN_PROGRESS:
            await self.access.require(Permission.CREATE, "backup.cancel", **where)
            job = f"Backup {backup_id}"
            request = request_backup_cancel(self.ctx, backup_id, self.actor)
        elif operation is not None:
            permission = Permission.RESTORE if operation.kind == OperationKind.RESTORE else Permission.DELETE
            await self.access.require(permission, f"backup.{operation.kind}.cancel", **where)
            job = f"The {operation.kind} of backup {backup_id}"
            request = request_operation_cancel(self.ctx, operation.id, self.actor)
        else:
            raise Conflict(f"Backup {backup_id} is {backup.status} and nothing runs on it: nothing to cancel")
        try:
            await request
        except DflowError as refusal:
            await self.access.audit("backup.cancel", "refused", detail=str(refusal), **where)
            raise
        await self.access.audit("backup.cancel", "requested", detail=job, **where)
        return (
            f"{job} stops at once if it runs here, or at its worker's next heartbeat "
            f"(within {self.ctx.settings.heartbeat_interval:.0f}s); it is then marked failed."
        )

    # --- restore and delete ----------------------------------------------

    async def _active_operation(self, session, backup_id: int) -> Operation | None:
        query = select(Operation).where(
            Operation.backup_id == backup_id,
            col(Operation.status).in_(ACTIVE_OPERATION_STATUSES),
        )
        return (await session.exec(query)).first()

    async def _queue(self, backup_id: int, kind: OperationKind) -> OperationView:
        action = f"backup.{kind.value}"
        permission = Permission.RESTORE if kind is OperationKind.RESTORE else Permission.DELETE
        await self.access.require(permission, action, target=f"backup {backup_id}")
        try:
            return await self._record_operation(backup_id, kind)
        except DflowError as refusal:
            await self.access.audit(action, "refused", target=f"backup {backup_id}", detail=str(refusal))
            raise

    async def _record_operation(self, backup_id: int, kind: OperationKind) -> OperationView:
        async with self.db.session() as session:
            backup = await session.get(Backup, backup_id)
            if backup is None:
                raise NotFound(f"No backup with id {backup_id} (see `dflow-tui backup list`)")
            active = await self._active_operation(session, backup_id)
            if kind is OperationKind.RESTORE:
                refuse(restore_refusal(backup, active))
                await self._check_service_is_quiet(session, backup.service_id)
            else:
                refuse(delete_refusal(backup, active))
            operation = Operation(
                backup_id=backup_id,
                kind=kind.value,
                status=OperationStatus.QUEUED,
                requested_by=self.actor,
                worker_id=self.ctx.worker_id,
                created_at=self.ctx.clock.now(),
            )
            session.add(operation)
            try:
                await session.commit()
            except IntegrityError:
                raise Conflict(f"Backup {backup_id} already has an operation running") from None
            await session.refresh(operation)
        return operation_view(operation)

    async def _check_service_is_quiet(self, session, service_id: int) -> None:
        """No restore while a backup or another restore of the same service runs."""
        running = (
            await session.exec(
                select(Backup).where(
                    Backup.service_id == service_id,
                    Backup.status == BackupStatus.IN_PROGRESS,
                )
            )
        ).first()
        if running is not None:
            raise Conflict(
                f"Backup {running.id} of this service is in progress; restore when it has finished"
            )
        restoring = (
            await session.exec(
                select(Operation)
                .join(Backup, Operation.backup_id == Backup.id)
                .where(
                    Backup.service_id == service_id,
                    Operation.kind == OperationKind.RESTORE,
                    col(Operation.status).in_(ACTIVE_OPERATION_STATUSES),
                )
            )
        ).first()
        if restoring is not None:
            raise Conflict(
                f"A restore of this service (from backup {restoring.backup_id}) is already running; "
                "wait for it to finish"
            )

    async def queue_restore(self, backup_id: int) -> OperationView:
        return await self._queue(backup_id, OperationKind.RESTORE)

    async def run_restore(
        self,
        operation_id: int,
        *,
        safety_backup: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> OperationView:
        if safety_backup:
            operation = await self._operation(operation_id)
            target = await self.get(operation.backup_id)
            report(on_progress, f"restore of backup {target.id}", "taking a safety backup first")
            safety = await self.create_and_run(target.service_path, on_progress)
            if safety.status != BackupStatus.SUCCESS:
                return await self._finish_audit(
                    await self._fail_operation(
                        operation_id,
                        f"Safety backup {safety.id} failed, nothing was restored: {safety.error}",
                    )
                )
        return await self._finish_audit(
            operation_view(await run_restore(self.ctx, operation_id, on_progress))
        )

    async def _finish_audit(self, operation: OperationView) -> OperationView:
        backup = await self.get(operation.backup_id)
        await self.access.audit(
            f"backup.{operation.kind}",
            operation.status,
            service_path=backup.service_path,
            target=f"backup {operation.backup_id}",
            detail=operation.error,
        )
        return operation

    async def restore(
        self,
        backup_id: int,
        *,
        safety_backup: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> OperationView:
        operation = await self.queue_restore(backup_id)
        return await self.run_restore(operation.id, safety_backup=safety_backup, on_progress=on_progress)

    async def queue_delete(self, backup_id: int) -> OperationView:
        return await self._queue(backup_id, OperationKind.DELETE)

    async def run_delete(
        self, operation_id: int, on_progress: ProgressCallback | None = None
    ) -> OperationView:
        return await self._finish_audit(operation_view(await run_delete(self.ctx, operation_id, on_progress)))

    async def delete(self, backup_id: int, on_progress: ProgressCallback | None = None) -> OperationView:
        operation = await self.queue_delete(backup_id)
        return await self.run_delete(operation.id, on_progress)

    async def _operation(self, operation_id: int) -> Operation:
        async with self.db.session() as session:
            operation = await session.get(Operation, operation_id)
        if operation is None:
            raise NotFound(f"No operation with id {operation_id}")
        return operation

    async def _fail_operation(self, operation_id: int, error: str) -> OperationView:
        async with self.db.session() as session:
            operation = await session.get(Operation, operation_id)
            operation.status = OperationStatus.FAILED
            operation.error = error
            operation.finished_at = self.ctx.clock.now()
            session.add(operation)
            await session.commit()
            await session.refresh(operation)
        return operation_view(operation)
