"""Putting things right after a job died part-way (a killed worker, a lost host).

A backup that never finished must leave nothing behind: its partial file, its
finished-but-unrecorded dump, its multipart upload or its unrecorded object.
A delete that died after removing the dump is finished: the record follows the
dump. A restore or a drill that died leaves no temp file, wherever it was restoring to. The dump name belongs to one row only, so nothing else can be touched.
"""

from __future__ import annotations

import logging

from dflow_tui.core.enums import BackupType, OperationKind
from dflow_tui.core.naming import (
    PARTIAL_SUFFIX,
    dump_in_backup_dir,
    join_remote,
    restore_temp_path,
)
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.delete import remove_dump
from dflow_tui.jobs.storage_access import StoredObject, open_storage, stored_object
from dflow_tui.remote import files
from dflow_tui.settings import RECOVERY_COMMAND_TIMEOUT
from dflow_tui.storage import abort_uploads_of, delete_all_versions
from dflow_tui.store.queries import copies, inventory, rows
from dflow_tui.store.tables import Backup, Operation, Server, Service

log = logging.getLogger("dflow_tui.recovery")


async def remove_unfinished_backup(ctx: JobContext, backup: Backup) -> None:
    """Best effort, in every place it was going to: a server or bucket that is down now is
    reported by `doctor` later. Its copies are recorded failed, removed or not."""
    places: list[tuple[BackupType, StoredObject | None, int | None, str | None]] = []
    if backup.type == BackupType.EXTERNAL:
        places.append((BackupType.EXTERNAL, stored_object(backup), None, None))
    else:
        places.append((BackupType.INTERNAL, None, backup.server_id, backup.file_path))
    made = await copies.backup_copies(ctx.db, rows.saved_id(backup.id))
    for copy in made:
        if copy.deleted_at is not None:
            continue
        if copy.type == BackupType.EXTERNAL and copy.provider_id and copy.bucket and copy.object_key:
            places.append(
                (
                    BackupType.EXTERNAL,
                    StoredObject(copy.provider_id, copy.bucket, copy.object_key),
                    None,
                    None,
                )
            )
        elif copy.type == BackupType.INTERNAL and copy.file_path:
            places.append((BackupType.INTERNAL, None, copy.server_id, copy.file_path))
    for kind, target, server_id, file_path in places:
        try:
            if kind == BackupType.EXTERNAL:
                assert target is not None
                async with await open_storage(ctx, target.provider_id) as client:
                    await abort_uploads_of(client, target.bucket, target.key)
                    await delete_all_versions(client, target.bucket, target.key)
                continue
            server = await rows.load(ctx.db, Server, server_id)
            name = dump_in_backup_dir(server.backup_dir, file_path or "")
            async with ctx.connect(server) as transport:
                await transport.run(
                    files.remove_partial(join_remote(server.backup_dir, name) + PARTIAL_SUFFIX),
                    timeout=RECOVERY_COMMAND_TIMEOUT,
                )
                await transport.run(
                    files.remove_dump(server.backup_dir, name), timeout=RECOVERY_COMMAND_TIMEOUT
                )
        except Exception as error:
            log.warning("could not clean up after backup %s: %s", backup.id, error)
    if made:
        why = f"Not kept: the backup failed ({backup.error or 'it never finished'})"
        await copies.settle_copies(ctx.db, rows.saved_id(backup.id), why, ctx.clock.now(), removed=True)


async def finish_interrupted_delete(ctx: JobContext, backup: Backup) -> bool:
    """The user asked for the delete: do it again (removal is idempotent), then record it.

    False when the dump could not be removed now: the record stays, as before."""
    try:
        await remove_dump(ctx, backup, f"delete of backup {backup.id}", None)
    except Exception as error:
        log.warning("interrupted delete of backup %s not finished: %s", backup.id, error)
        return False
    await rows.update(ctx.db, Backup, backup.id, deleted_at=ctx.clock.now())
    return True


async def restore_temps(ctx: JobContext, operation: Operation) -> tuple[Server, list[str]] | None:
    """Where a restore or a drill puts the dump before importing it, when it is not
    imported from where it is kept: the target's server, and the temp file's possible
    names (streamed from the bucket; copied from another server, compressed or not)."""
    backup = await rows.load(ctx.db, Backup, operation.backup_id)
    source = await rows.load(ctx.db, Server, backup.server_id)
    if operation.kind == OperationKind.DRILL:
        name, server = operation.drill_service, source
    elif operation.target_service_id is not None:
        async with ctx.db.reading() as session:
            name = (await rows.get(session, Service, operation.target_service_id)).name
            server = await inventory.server_of_service(session, operation.target_service_id)
    else:
        name, server = (await rows.load(ctx.db, Service, backup.service_id)).name, source
    if name is None or (backup.type == BackupType.INTERNAL and server.id == source.id):
        return None
    assert backup.created_at is not None  # every backup is recorded with its creation time
    return server, [
        restore_temp_path(server.backup_dir, name, backup.created_at, compressed=compressed)
        for compressed in (False, True)
    ]


async def remove_restore_temp(ctx: JobContext, operation: Operation) -> None:
    """The temp file of a restore or a drill that died (see restore_temps)."""
    temps = await restore_temps(ctx, operation)
    if temps is None:
        return
    server, paths = temps
    try:
        async with ctx.connect(server) as transport:
            for path in paths:
                await transport.run(files.remove_partial(path), timeout=RECOVERY_COMMAND_TIMEOUT)
    except Exception as error:  # the server may be down too; the next doctor run will see it
        log.warning("could not remove %s on %s: %s", " or ".join(paths), server.name, error)
