"""The restore job: get the dump onto the server, prove it is the recorded one, import it.

Internal dumps are already on the server. External ones are streamed from the
bucket into a private temp file beside them, which is removed afterwards, on
failure too. A dump whose sha256 or size differs from its record is never imported.
"""

from __future__ import annotations

import asyncio
import contextlib

from dflow_tui.core.enums import BackupStatus, BackupType, Trigger
from dflow_tui.core.errors import DflowError, RemoteError
from dflow_tui.core.naming import dump_in_backup_dir, join_remote, restore_temp_path
from dflow_tui.jobs import audit, records
from dflow_tui.jobs.backup import run_backup
from dflow_tui.jobs.cancel import point_of_no_return
from dflow_tui.jobs.commands import must_run
from dflow_tui.jobs.context import JobContext, ProgressCallback, output_reporter, report
from dflow_tui.jobs.enqueue import record_backup
from dflow_tui.jobs.failure import command_failure
from dflow_tui.jobs.operation import run_operation
from dflow_tui.jobs.storage_access import open_storage
from dflow_tui.remote import files
from dflow_tui.remote.transport import Transport
from dflow_tui.storage import download_stream
from dflow_tui.store.tables import Backup, Operation, Server, Service


async def run_restore(
    ctx: JobContext, operation_id: int, on_progress: ProgressCallback | None = None
) -> Operation:
    async def body(operation: Operation) -> None:
        backup = await records.load(ctx.db, Backup, operation.backup_id)
        service = await records.load(ctx.db, Service, backup.service_id)
        server = await records.load(ctx.db, Server, backup.server_id)
        job = f"restore of backup {backup.id}"
        if operation.safety_backup and operation.safety_backup_id is None:
            await _safety_backup(ctx, operation, backup, job, on_progress)
        async with ctx.connect(server) as transport:
            if backup.type == BackupType.INTERNAL:
                path = join_remote(server.backup_dir, dump_in_backup_dir(server.backup_dir, backup.file_path))
                exists = await transport.run(files.file_exists(path), timeout=60)
                if not exists.ok:
                    raise RemoteError(f"Dump {path} is missing on server {server.name}")
                await _check_and_import(ctx, transport, operation, backup, service, path, job, on_progress)
                return
            temp = restore_temp_path(server.backup_dir, service.name, backup.created_at)
            try:
                await must_run(
                    transport, files.ensure_dir(server.backup_dir), "Creating the backup directory"
                )
                await _download_to_server(ctx, transport, backup, temp, job, on_progress)
                await _check_and_import(ctx, transport, operation, backup, service, temp, job, on_progress)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(transport.run(files.remove_partial(temp), timeout=30))

    return await run_operation(ctx, operation_id, body, on_progress)


async def _safety_backup(
    ctx: JobContext, operation: Operation, backup: Backup, job: str, on_progress: ProgressCallback | None
) -> None:
    """Backs up the live database before it is replaced; nothing is restored without it."""
    assert operation.id is not None and backup.id is not None
    report(on_progress, job, "taking a safety backup first")
    actor = operation.requested_by or "unknown"
    safety = await record_backup(
        ctx, backup.service_id, trigger=Trigger.MANUAL, tier=None, actor=actor, claimed=True
    )
    assert safety.id is not None
    await records.update(ctx.db, Operation, operation.id, safety_backup_id=safety.id)
    finished = await run_backup(ctx, safety.id, on_progress)
    path = await records.service_path(ctx.db, backup.service_id)
    await audit.record(
        ctx,
        actor,
        "backup.create",
        finished.status,
        service_path=path,
        target=f"backup {safety.id}",
        detail=finished.error or f"safety backup before the restore of backup {backup.id}",
    )
    if finished.status != BackupStatus.SUCCESS:
        raise DflowError(f"Safety backup {safety.id} failed, nothing was restored: {finished.error}")


async def _download_to_server(ctx, transport: Transport, backup: Backup, temp: str, job, on_progress) -> None:
    async with await open_storage(ctx, backup.provider_id) as client:
        stream = await download_stream(client, backup.bucket, backup.object_key, version_id=backup.version_id)
        process = await transport.start(files.receive_to_file(temp))
        try:
            async with stream:
                report(
                    on_progress,
                    job,
                    f"downloading s3://{backup.bucket}/{backup.object_key}",
                    done_bytes=0,
                    total_bytes=stream.size,
                )
                done = 0
                async for chunk in stream:
                    await process.write(chunk)
                    done += len(chunk)
                    report(on_progress, job, "downloading", done_bytes=done, total_bytes=stream.size)
            await process.write_eof()
        except BaseException:
            process.kill()
            raise
        finished = await process.wait()
        if not finished.ok:
            raise RemoteError(
                command_failure("Writing the dump on the server", finished.stderr, finished.exit_status)
            )


async def _check_and_import(
    ctx,
    transport: Transport,
    operation: Operation,
    backup: Backup,
    service: Service,
    path: str,
    job,
    on_progress,
) -> None:
    report(on_progress, job, "checking the dump against its record")
    checked = await must_run(transport, files.checksum(path), "Checksum of the dump")
    sha256, size = files.parse_checksum(checked.stdout)
    if sha256 != backup.sha256 or size != backup.size_bytes:
        raise RemoteError(
            f"The dump does not match its record (sha256 {sha256[:12]}…, {size} bytes; "
            f"expected {(backup.sha256 or '')[:12]}…, {backup.size_bytes} bytes): refusing to import"
        )
    step = f"importing into {service.engine} service {service.name}"
    await point_of_no_return(ctx, operation.id)
    report(on_progress, job, step)
    await must_run(
        transport,
        files.import_from_file(service.engine, service.name, path),
        f"Import into {service.engine} service {service.name}",
        timeout=ctx.settings.command_timeout,
        on_output=output_reporter(ctx, on_progress, job, step),
    )
