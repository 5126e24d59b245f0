"""Backups of one database service: create, list, restore, delete.

Each action has two halves: a quick, checked step that records the intent (a
backup row, an operation row) and the job that carries it out. The CLI awaits
both; the TUI records, then runs the job in the background and watches the row.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Sequence

from dflow_tui.core.copies import Place, is_degraded, uncopyable
from dflow_tui.core.enums import (
    ACTIVE_OPERATION_STATUSES,
    AuditResult,
    BackupStatus,
    BackupType,
    OperationKind,
    OperationStatus,
    Trigger,
)
from dflow_tui.core.errors import Conflict, DflowError, InvalidName, NotFound
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import (
    Refusal,
    busy_refusal,
    cancel_refusal,
    delete_refusal,
    describe_owner,
    refuse,
    restore_refusal,
    server_for_new_backup,
    writer_refusal,
)
from dflow_tui.core.views import BackupView, CopiedView, CopyView, DrillView, OperationView
from dflow_tui.jobs.cancel import request_backup_cancel, request_operation_cancel
from dflow_tui.jobs.context import JobContext, ProgressCallback
from dflow_tui.jobs.copy_backup import COPY_REFUSALS, check_copy
from dflow_tui.jobs.enqueue import record_backup
from dflow_tui.jobs.identities import identity_for
from dflow_tui.jobs.runner import backup_job, operation_job
from dflow_tui.jobs.stale import cleanup_stale, stale_reason_of
from dflow_tui.jobs.worker import Worker
from dflow_tui.service.access import Access
from dflow_tui.store.queries import backups, copies, inventory, operations, providers, rows
from dflow_tui.store.queries.backups import BackupRow, OperationRow
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, BackupCopy, Operation, Service


def operation_view(operation: Operation) -> OperationView:
    return OperationView(
        id=rows.saved_id(operation.id),
        backup_id=operation.backup_id,
        kind=operation.kind,
        status=operation.status,
        error=operation.error,
        probe=operation.probe,
        restored_from=operation.restored_from,
    )


def _lowered(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def _location(row: BackupRow | BackupCopy) -> str | None:
    if row.object_key:
        return f"s3://{row.bucket}/{row.object_key}"
    return row.file_path


def _destination(row: BackupRow | BackupCopy, provider_names: dict[int, str]) -> str:
    if row.provider_id is None:
        return BackupType.INTERNAL.value
    return provider_names.get(row.provider_id, f"provider {row.provider_id}")


def copy_view(copy: BackupCopy, provider_names: dict[int, str]) -> CopyView:
    return CopyView(
        destination=_destination(copy, provider_names),
        status="deleted" if copy.deleted_at is not None else copy.status,
        location=_location(copy),
        stored_size=copy.stored_size_bytes,
        sha256=copy.stored_sha256,
        error=copy.error,
    )


def backup_view(
    backup: BackupRow,
    path: str,
    operation: OperationRow | None,
    refusals: dict[Permission, str | None],
    safety_for: int | None = None,
    copies: Sequence[BackupCopy] = (),
    provider_names: dict[int, str] | None = None,
) -> BackupView:
    """The row as faces show it, with what the acting user may do on it and, if not, why
    (`refusals`: why the acting user lacks each permission, see Access.refusals), and the
    copies beside its primary (`provider_names`: each provider's name by id)."""
    names = provider_names or {}
    return BackupView(
        id=rows.saved_id(backup.id),
        service_path=path,
        type=backup.type,
        status=backup.status,
        trigger=backup.trigger,
        schedule_tier=backup.schedule_tier,
        created_at=backup.created_at,
        finished_at=backup.finished_at,
        size_bytes=backup.size_bytes,
        sha256=backup.sha256,
        stored_size_bytes=backup.stored_size_bytes,
        stored_sha256=backup.stored_sha256,
        compression=backup.compression,
        encrypted_for=tuple(f for f in (backup.encrypted_for or "").split(",") if f),
        error=backup.error,
        location=_location(backup),
        requested_by=backup.requested_by,
        queued=backup.status == BackupStatus.IN_PROGRESS and backup.worker_id is None,
        safety_for_backup=safety_for,
        operation_kind=operation.kind if operation else None,
        operation_status=operation.status if operation else None,
        operation_error=operation.error if operation else None,
        cancel_requested_by=_cancel_requested_by(backup, operation),
        operation_irreversible=bool(
            operation and operation.irreversible_at and operation.status in ACTIVE_OPERATION_STATUSES
        ),
        **_refusals(backup, operation, refusals),
        destination=_destination(backup, names),
        copies=tuple(copy_view(copy, names) for copy in copies),
        degraded=is_degraded(backup.status, [c.status for c in copies if c.deleted_at is None]),
    )


def _refusals(
    backup: BackupRow, operation: OperationRow | None, refusals: dict[Permission, str | None]
) -> dict[str, str | None]:
    """The permission the action needs comes first, then whether the row allows it now."""

    def first(*reasons: str | Refusal | None) -> str | None:
        for reason in reasons:
            if reason is not None:
                return reason.reason if isinstance(reason, Refusal) else reason
        return None

    if backup.status == BackupStatus.IN_PROGRESS:
        cancel_permission = Permission.CREATE
    elif operation is not None and operation.kind == OperationKind.DELETE:
        cancel_permission = Permission.DELETE
    elif operation is not None and operation.kind == OperationKind.COPY:
        cancel_permission = Permission.CREATE
    else:
        cancel_permission = Permission.RESTORE
    return {
        "restore_refusal": first(refusals[Permission.RESTORE], restore_refusal(backup, operation)),
        "delete_refusal": first(refusals[Permission.DELETE], delete_refusal(backup, operation)),
        "cancel_refusal": first(cancel_refusal(backup, operation), refusals[cancel_permission]),
        "copy_refusal": first(
            refusals[Permission.CREATE],
            uncopyable(rows.saved_id(backup.id), backup.status, backup.deleted_at is not None),
            busy_refusal(backup, operation),
        ),
    }


def _cancel_requested_by(backup: BackupRow, operation: OperationRow | None) -> str | None:
    if backup.status == BackupStatus.IN_PROGRESS:
        return backup.cancel_requested_by
    if operation is not None and operation.status in ACTIVE_OPERATION_STATUSES:
        return operation.cancel_requested_by
    return None


class Backups:
    def __init__(self, ctx: JobContext, access: Access, worker: Worker):
        self.ctx = ctx
        self.db = ctx.db
        self.access = access
        self.actor = access.login
        self.worker = worker

    # --- create ----------------------------------------------------------

    async def create(
        self, path: str, *, wait: bool = True, on_progress: ProgressCallback | None = None
    ) -> BackupView:
        """Backs the service up now, run by this process's worker loop. With `wait`, returns
        the finished backup; without, the one just recorded (in progress), while it runs.
        Checks come first: a refused request leaves no row behind."""
        backup = await self._record(path, claimed=True)
        assert backup.id is not None
        job = await backup_job(self.ctx, backup.id)
        if not wait:
            self.worker.submit(job, on_progress)
            return backup_view(backup, path, None, await self.access.refusals())
        await self.worker.run(job, on_progress)
        return await self.get(backup.id)

    async def queue(self, path: str) -> BackupView:
        """Records a backup for any worker to run (this one, a `dflow-tui worker`, the open app)."""
        backup = await self._record(path, claimed=False)
        return backup_view(backup, path, None, await self.access.refusals())

    async def _record(self, path: str, *, claimed: bool) -> Backup:
        await self.access.require(Permission.CREATE, "backup.create", service_path=path)
        async with self.db.reading() as session:
            place = await inventory.service_by_path(session, path)
        service_id = rows.saved_id(place.service.id)

        async def record() -> Backup:
            return await record_backup(
                self.ctx, service_id, trigger=Trigger.MANUAL, tier=None, actor=self.actor, claimed=claimed
            )

        try:
            try:
                return await record()
            except Conflict:
                # The backup in the way may be a dead one (its process killed): this request
                # is its next observer, so it is cleaned up now and the new one goes ahead.
                if not any(c.service_id == service_id for c in await cleanup_stale(self.ctx)):
                    raise
                return await record()
        except DflowError as refusal:
            await self.access.audit(
                "backup.create", AuditResult.REFUSED, service_path=path, detail=str(refusal)
            )
            raise

    # --- read ------------------------------------------------------------

    async def list(self, path: str | None = None, *, include_deleted: bool = False) -> list[BackupView]:
        """Newest first. Read as plain rows, not ORM objects: this runs every second in the
        TUI, over tens of thousands of rows."""
        await self.access.require(Permission.READ, "backup.list", service_path=path)
        refusals = await self.access.refusals()
        async with self.db.reading() as session:
            paths = await inventory.service_paths(session)
            service_id = None
            if path is not None:
                service_id = (await inventory.service_by_path(session, path)).service.id
            listed = await backups.list_rows(session, service_id, include_deleted=include_deleted)
            latest = await backups.latest_operations(session, service_id, include_deleted=include_deleted)
            safety = await backups.safety_backups(session, service_id)
            kept = await copies.copies_of_listed(session, service_id, include_deleted=include_deleted)
            names = await providers.provider_names(session)
        return [
            backup_view(
                row,
                paths[row.service_id],
                latest.get(rows.saved_id(row.id)),
                refusals,
                safety.get(row.id or 0),
                kept.get(rows.saved_id(row.id), ()),
                names,
            )
            for row in listed
        ]

    async def revision(self, path: str | None = None) -> tuple[object, ...]:
        """A cheap fingerprint of the backup list: it changes whenever `list` would.

        A live view polls this every second and fetches the list only when it moved."""
        await self.access.require(Permission.READ, "backup.list", service_path=path)
        async with self.db.reading() as session:
            service_id = None
            if path is not None:
                service_id = (await inventory.service_by_path(session, path)).service.id
            return await backups.revision(session, service_id)

    async def _backup(self, session: StateSession, backup_id: int) -> Backup:
        backup = await rows.find(session, Backup, backup_id)
        if backup is None:
            raise NotFound(f"No backup with id {backup_id} (see `dflow-tui backup list`)")
        return backup

    async def get(self, backup_id: int) -> BackupView:
        await self.access.require(Permission.READ, "backup.list", target=f"backup {backup_id}")
        async with self.db.reading() as session:
            backup = await self._backup(session, backup_id)
            place = await inventory.service_rows(session, backup.service_id)
            operation = await operations.latest_operation(session, backup_id)
            safety = await backups.safety_backups(session, backup.service_id)
            kept = await copies.backup_copies_in(session, backup_id)
            names = await providers.provider_names(session)
        return backup_view(
            backup,
            place.path,
            operation,
            await self.access.refusals(),
            safety.get(backup_id),
            kept,
            names,
        )

    # --- cancel ----------------------------------------------------------

    async def cancel(self, backup_id: int) -> str:
        """Asks the job working on this backup to stop: the backup itself while it runs,
        else the restore or delete running on it (until its point of no return).
        Returns what will happen, in a sentence."""
        async with self.db.reading() as session:
            backup = await self._backup(session, backup_id)
            operation = await operations.active_operation(session, backup_id)
            path = (await inventory.service_rows(session, backup.service_id)).path
        where = {"service_path": path, "target": f"backup {backup_id}"}
        request: Awaitable[Backup | Operation]
        if backup.status == BackupStatus.IN_PROGRESS:
            await self.access.require(Permission.CREATE, "backup.cancel", **where)
            job = f"Backup {backup_id}"
            if (settled := await self._settle_unowned(backup, job)) is not None:
                await self.access.audit("backup.cancel", AuditResult.SUCCEEDED, detail=settled, **where)
                return settled
            request = request_backup_cancel(self.ctx, backup_id, self.actor)
        elif operation is not None:
            permission = {OperationKind.DELETE: Permission.DELETE, OperationKind.COPY: Permission.CREATE}.get(
                OperationKind(operation.kind), Permission.RESTORE
            )
            await self.access.require(permission, f"backup.{operation.kind}.cancel", **where)
            job = f"The {operation.kind} of backup {backup_id}"
            request = request_operation_cancel(self.ctx, rows.saved_id(operation.id), self.actor)
        else:
            refusal = cancel_refusal(backup, operation) or Refusal(f"Backup {backup_id}: nothing to cancel")
            await self.access.audit("backup.cancel", AuditResult.REFUSED, detail=refusal.reason, **where)
            raise refusal.error()
        try:
            await request
        except DflowError as refusal:
            await self.access.audit("backup.cancel", AuditResult.REFUSED, detail=str(refusal), **where)
            raise
        await self.access.audit("backup.cancel", AuditResult.SUCCEEDED, detail=job, **where)
        owner = (
            operation.worker_id
            if operation is not None and backup.status != BackupStatus.IN_PROGRESS
            else backup.worker_id
        )
        if owner is None or owner == self.ctx.worker_id:
            return f"{job} stops now; it is then marked failed."
        return (
            f"{job} stops at the next heartbeat of {_lowered(describe_owner(owner))} "
            f"(within {self.ctx.settings.heartbeat_interval:.0f}s); it is then marked failed."
        )

    async def _settle_unowned(self, backup: Backup, job: str) -> str | None:
        """A backup nobody runs (queued, or its process gone) is cancelled here and now:
        a request would wait for a heartbeat that never comes. None: somebody runs it."""
        if (reason := stale_reason_of(self.ctx, backup)) is not None:
            await cleanup_stale(self.ctx)
            return f"{job} was not running any more: {reason}; what it left is removed."
        if backup.worker_id is None and await backups.cancel_queued(
            self.db, rows.saved_id(backup.id), self.actor, self.ctx.clock.now()
        ):
            return f"{job} had not started (no worker had taken it): it is cancelled."
        return None

    # --- restore and delete ----------------------------------------------

    async def restore(
        self,
        backup_id: int,
        *,
        safety_backup: bool = True,
        identity: str | None = None,
        into: str | None = None,
        wait: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> OperationView:
        """Replaces the live database with the backup, after a safety backup of it (unless
        told otherwise), run by this process's worker loop. With `wait`, returns the
        finished operation; without, the one just recorded, while it runs. `identity`: the
        private key that opens an encrypted backup (else one saved in this host's keyring);
        without one that fits, nothing is recorded and nothing runs. `into`: another
        service of the same engine (on any server) to restore into; the backup's own
        service is not touched then."""
        return await self._operate(
            backup_id, OperationKind.RESTORE, safety_backup, wait, on_progress, identity=identity, into=into
        )

    async def copy(
        self,
        backup_id: int,
        to: str,
        *,
        identity: str | None = None,
        wait: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> CopiedView | None:
        """One more copy of a backup that succeeded, at `to` (`internal` or a verified
        provider's name), or its copy there redone when it failed or is gone; read from the
        backup's first healthy place. Refused in one sentence before it is recorded; then run
        by this process as a job like the others (a `copy` operation: heartbeat, `backup
        cancel`, cleanup when its process dies; jobs/copy_backup.py). Not waited for
        (`wait=False`, the app): handed to this process's worker, None returned."""
        target = f"backup {backup_id}"
        await self.access.require(Permission.CREATE, "backup.copy", target=target)
        where: dict[str, str | None] = {"target": target, "service_path": None}
        try:
            place = Place.of(to)
            backup = await rows.load(self.db, Backup, backup_id)
            where["service_path"] = await inventory.service_path(self.db, backup.service_id)
            repaired = await check_copy(self.ctx, backup_id, place, identity)
            async with self.db.session() as session:
                refuse(
                    busy_refusal(
                        await self._backup(session, backup_id),
                        await operations.active_operation(session, backup_id),
                    )
                )
                operation = await operations.insert_operation(
                    session,
                    Operation(
                        backup_id=backup_id,
                        kind=OperationKind.COPY,
                        status=OperationStatus.QUEUED,
                        requested_by=self.actor,
                        worker_id=self.ctx.worker_id,
                        created_at=self.ctx.clock.now(),
                        copy_to=place.name,
                    ),
                )
        except DflowError as error:
            result = AuditResult.REFUSED if isinstance(error, COPY_REFUSALS) else AuditResult.FAILED
            await self.access.audit("backup.copy", result, detail=str(error), **where)
            raise
        operation_id = rows.saved_id(operation.id)
        if identity is not None:
            self.ctx.identities[operation_id] = identity  # this process runs it: held in memory only
        job = await operation_job(self.ctx, operation)
        if not wait:
            self.worker.submit(job, on_progress)
            return None
        await self.worker.run(job, on_progress)
        done = await rows.load(self.db, Operation, operation_id)
        if done.status != OperationStatus.SUCCEEDED:
            raise DflowError(done.error or f"The copy of backup {backup_id} to {place.name} did not finish")
        async with self.db.reading() as session:
            names = await providers.provider_names(session)
        recorded = await copies.backup_copies(self.db, backup_id)
        made = next((c for c in recorded if _destination(c, names) == place.name), None)
        location = _location(made) if made is not None else None
        return CopiedView(backup_id, place.name, location, done.restored_from or "", repaired)

    async def delete(
        self, backup_id: int, *, wait: bool = True, on_progress: ProgressCallback | None = None
    ) -> OperationView:
        """Removes the dump (the file, or every version of the object), then the record."""
        return await self._operate(backup_id, OperationKind.DELETE, False, wait, on_progress)

    async def drill(
        self,
        path: str,
        backup_id: int | None = None,
        *,
        identity: str | None = None,
        wait: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> OperationView:
        """Restores the backup (by default the service's newest successful one) into a
        throwaway service on its server, counts what it holds, destroys it (jobs/drill.py)."""
        if backup_id is None:
            newest = [b for b in await self.list(path) if b.status == BackupStatus.SUCCESS]
            if not newest:
                raise NotFound(f"{path} has no successful backup to drill")
            backup_id = newest[0].id
        elif (await self.get(backup_id)).service_path != path:
            raise InvalidName(f"Backup {backup_id} is not a backup of {path}")
        return await self._operate(
            backup_id, OperationKind.DRILL, False, wait, on_progress, identity=identity
        )

    async def drills(self, path: str | None = None) -> builtins.list[DrillView]:
        """The restore drills run (of one service's backups, or all), newest first."""
        await self.access.require(Permission.READ, "drill.list", service_path=path)
        async with self.db.reading() as session:
            service_id = (await inventory.service_by_path(session, path)).service.id if path else None
            paths = await inventory.service_paths(session)
            found = await operations.drills(session, service_id)
        return [
            DrillView(
                id=rows.saved_id(operation.id),
                backup_id=operation.backup_id,
                service_path=paths.get(backup_service, "?"),
                status=operation.status,
                probe=operation.probe,
                error=operation.error,
                started_at=operation.started_at,
                finished_at=operation.finished_at,
                requested_by=operation.requested_by,
            )
            for operation, backup_service in found
        ]

    async def _operate(
        self,
        backup_id: int,
        kind: OperationKind,
        safety_backup: bool,
        wait: bool,
        on_progress: ProgressCallback | None,
        *,
        identity: str | None = None,
        into: str | None = None,
    ) -> OperationView:
        action = f"backup.{kind.value}"
        permission = Permission.DELETE if kind is OperationKind.DELETE else Permission.RESTORE
        target = f"backup {backup_id}" + (f" into {into}" if into else "")
        await self.access.require(permission, action, target=target, service_path=into)
        try:
            if kind is not OperationKind.DELETE:  # an encrypted backup nobody here can open: say so now
                await identity_for(self.ctx, await rows.load(self.db, Backup, backup_id), identity)
            operation = await self._record_operation(backup_id, kind, safety_backup, into)
        except DflowError as refusal:
            await self.access.audit(action, AuditResult.REFUSED, target=target, detail=str(refusal))
            raise
        assert operation.id is not None
        if identity is not None:
            self.ctx.identities[operation.id] = identity  # this process runs it: held in memory only
        job = await operation_job(self.ctx, operation)
        if not wait:
            self.worker.submit(job, on_progress)
            return operation_view(operation)
        await self.worker.run(job, on_progress)
        return operation_view(await rows.load(self.db, Operation, operation.id))

    async def _record_operation(
        self, backup_id: int, kind: OperationKind, safety_backup: bool, into: str | None = None
    ) -> Operation:
        async with self.db.session() as session:
            backup = await self._backup(session, backup_id)
            active = await operations.active_operation(session, backup_id)
            target_id: int | None = None
            if kind is OperationKind.RESTORE:
                refuse(restore_refusal(backup, active))
                if into is not None:
                    target_id = await self._restore_target(session, backup, into)
                await self._check_service_is_quiet(session, target_id or backup.service_id)
            elif kind is OperationKind.DRILL:
                refuse(restore_refusal(backup, active))  # the live service is not touched
            else:
                refuse(delete_refusal(backup, active))
            operation = Operation(
                backup_id=backup_id,
                kind=kind,
                status=OperationStatus.QUEUED,
                requested_by=self.actor,
                worker_id=self.ctx.worker_id,
                created_at=self.ctx.clock.now(),
                safety_backup=safety_backup,
                target_service_id=target_id,
            )
            return await operations.insert_operation(session, operation)

    async def _restore_target(self, session: StateSession, backup: Backup, into: str) -> int | None:
        """The service `into` names, when it can take this backup (the same engine, a server
        to run on); None when it is the backup's own service."""
        target = await inventory.service_by_path(session, into)
        source = await rows.get(session, Service, backup.service_id)
        if target.service.id == source.id:
            return None
        if target.service.engine != source.engine:
            raise InvalidName(
                f"Backup {backup.id} is a {source.engine} dump and {into} is a {target.service.engine} "
                "service: a backup restores only into a service of its own engine"
            )
        server_for_new_backup(into, target.environment, target.project)  # it has a server
        return rows.saved_id(target.service.id)

    async def _check_service_is_quiet(self, session: StateSession, service_id: int) -> None:
        """No restore while a backup or another restore of the same service runs."""
        await inventory.lock_service(session, service_id)  # against a backup starting right now
        running = await backups.running_backup(session, service_id)
        restoring = await operations.active_restore_of_service(session, service_id)
        refuse(
            writer_refusal(
                OperationKind.RESTORE,
                running.id if running else None,
                restoring.backup_id if restoring else None,
            )
        )
