"""The delete job: remove the dump (file, or every object version), then soft-delete the row."""

from __future__ import annotations

from dflow_tui.core.enums import BackupStatus, BackupType
from dflow_tui.core.errors import RemoteError
from dflow_tui.core.naming import dump_in_backup_dir
from dflow_tui.jobs.cancel import point_of_no_return
from dflow_tui.jobs.context import JobContext, ProgressCallback, report
from dflow_tui.jobs.failure import command_failure
from dflow_tui.jobs.operation import run_operation
from dflow_tui.jobs.storage_access import open_storage, stored_object
from dflow_tui.remote import files
from dflow_tui.settings import SHORT_COMMAND_TIMEOUT
from dflow_tui.storage import delete_all_versions
from dflow_tui.store.queries import rows
from dflow_tui.store.tables import Backup, Operation, Server


async def remove_dump(
    ctx: JobContext, backup: Backup, job: str, on_progress: ProgressCallback | None
) -> None:
    """Removes what a backup stored; a failed backup stored nothing."""
    if backup.status != BackupStatus.SUCCESS:
        return
    if backup.type == BackupType.EXTERNAL:
        target = stored_object(backup)
        async with await open_storage(ctx, target.provider_id) as client:
            report(on_progress, job, f"removing every version of s3://{target.bucket}/{target.key}")
            await delete_all_versions(client, target.bucket, target.key)
        return
    server = await rows.load(ctx.db, Server, backup.server_id)
    file_name = dump_in_backup_dir(server.backup_dir, backup.file_path or "")
    async with ctx.connect(server) as transport:
        report(on_progress, job, f"removing {backup.file_path}")
        result = await transport.run(
            files.remove_dump(server.backup_dir, file_name), timeout=SHORT_COMMAND_TIMEOUT
        )
    if result.exit_status == files.EXIT_GONE:
        report(on_progress, job, f"{backup.file_path} was already gone")
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
