"""The delete job: remove the dump (file, or every object version) from every place it is
kept — its copies, then its primary — then soft-delete the row."""

from __future__ import annotations

from dflow_tui.core.enums import BackupStatus, BackupType
from dflow_tui.core.errors import DflowError, RemoteError
from dflow_tui.core.naming import dump_in_backup_dir
from dflow_tui.jobs.cancel import point_of_no_return
from dflow_tui.jobs.context import JobContext, ProgressCallback, report
from dflow_tui.jobs.failure import command_failure, failure_text
from dflow_tui.jobs.operation import run_operation
from dflow_tui.jobs.storage_access import StoredObject, open_storage, stored_object
from dflow_tui.remote import files
from dflow_tui.settings import SHORT_COMMAND_TIMEOUT
from dflow_tui.storage import delete_all_versions
from dflow_tui.store.queries import copies, rows
from dflow_tui.store.tables import Backup, BackupCopy, Operation, Server


async def remove_dump(
    ctx: JobContext, backup: Backup, job: str, on_progress: ProgressCallback | None
) -> None:
    """Removes what a backup stored: its copies first, then its primary (a failed backup
    stored nothing there). A copy that cannot be removed now keeps its record with why, and
    the primary is left as it is: the backup stays whole enough to restore, and a later
    delete finishes it (removal is idempotent)."""
    await remove_copies(ctx, backup, job, on_progress)
    if backup.status != BackupStatus.SUCCESS:
        return
    if backup.type == BackupType.EXTERNAL:
        await _remove_object(ctx, stored_object(backup), job, on_progress)
    else:
        await _remove_file(ctx, backup.server_id, backup.file_path, job, on_progress)


async def remove_copies(
    ctx: JobContext, backup: Backup, job: str, on_progress: ProgressCallback | None
) -> None:
    """Every copy the backup keeps, each recorded removed (or why not); DflowError naming
    those that could not be removed now."""
    kept = [
        copy
        for copy in await copies.backup_copies(ctx.db, rows.saved_id(backup.id))
        if copy.deleted_at is None and copy.status == BackupStatus.SUCCESS
    ]
    failures: list[str] = []
    for copy in kept:
        try:
            await remove_copy(ctx, copy, job, on_progress)
        except Exception as error:
            text = failure_text(error, ctx.secrets)
            await copies.update_copy(ctx.db, copy.id, error=f"Not removed yet: {text}")
            failures.append(f"{_where(copy)}: {text}")
            continue
        await copies.update_copy(ctx.db, copy.id, deleted_at=ctx.clock.now(), error=None)
    if failures:
        raise DflowError(
            f"Backup {backup.id}: {len(failures)} of its copies could not be removed "
            f"({'; '.join(failures)}); it is kept, and a later delete finishes it"
        )


async def remove_copy(
    ctx: JobContext, copy: BackupCopy, job: str, on_progress: ProgressCallback | None
) -> None:
    if copy.type == BackupType.EXTERNAL:
        if copy.provider_id is None or not copy.bucket or not copy.object_key:
            raise DflowError(f"A copy of backup {copy.backup_id} names no storage provider, bucket and key")
        await _remove_object(
            ctx, StoredObject(copy.provider_id, copy.bucket, copy.object_key), job, on_progress
        )
    else:
        await _remove_file(ctx, copy.server_id, copy.file_path, job, on_progress)


def _where(copy: BackupCopy) -> str:
    return f"s3://{copy.bucket}/{copy.object_key}" if copy.object_key else copy.file_path or "?"


async def _remove_object(
    ctx: JobContext, target: StoredObject, job: str, on_progress: ProgressCallback | None
) -> None:
    async with await open_storage(ctx, target.provider_id) as client:
        report(on_progress, job, f"removing every version of s3://{target.bucket}/{target.key}")
        await delete_all_versions(client, target.bucket, target.key)


async def _remove_file(
    ctx: JobContext,
    server_id: int | None,
    file_path: str | None,
    job: str,
    on_progress: ProgressCallback | None,
) -> None:
    server = await rows.load(ctx.db, Server, server_id)
    file_name = dump_in_backup_dir(server.backup_dir, file_path or "")
    async with ctx.connect(server) as transport:
        report(on_progress, job, f"removing {file_path}")
        result = await transport.run(
            files.remove_dump(server.backup_dir, file_name), timeout=SHORT_COMMAND_TIMEOUT
        )
    if result.exit_status == files.EXIT_GONE:
        report(on_progress, job, f"{file_path} was already gone")
    elif not result.ok:
        raise RemoteError(command_failure("Removing the dump", result.stderr, result.exit_status))


async def run_delete(
    ctx: JobContext, operation_id: int, on_progress: ProgressCallback | None = None
) -> Operation:
    async def body(operation: Operation) -> None:
        backup = await rows.load(ctx.db, Backup, operation.backup_id)
        await point_of_no_return(ctx, rows.saved_id(operation.id))
        await remove_dump(ctx, backup, f"delete of backup {backup.id}", on_progress)
        await rows.update(ctx.db, Backup, backup.id, deleted_at=ctx.clock.now())

    return await run_operation(ctx, operation_id, body, on_progress)
