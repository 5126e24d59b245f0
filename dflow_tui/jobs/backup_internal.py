"""Internal backup: export on the server into a partial file, checksum, then rename.

Nothing that looks like a finished dump exists on the server until the export
succeeded and was measured; any failure removes the partial file.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from dflow_tui.core.engines import compresses
from dflow_tui.core.enums import BackupStatus
from dflow_tui.core.errors import DflowError, RemoteError
from dflow_tui.core.naming import PARTIAL_SUFFIX, dump_in_backup_dir, join_remote
from dflow_tui.jobs.commands import must_run
from dflow_tui.jobs.context import JobContext, ProgressCallback, output_reporter, report
from dflow_tui.jobs.file_growth import while_measuring
from dflow_tui.jobs.probe import counted_beside_export
from dflow_tui.pipeline import Layers
from dflow_tui.remote import files
from dflow_tui.remote.transport import Transport
from dflow_tui.settings import CLEANUP_COMMAND_TIMEOUT, PROBE_COMMAND_TIMEOUT
from dflow_tui.store.queries import rows
from dflow_tui.store.tables import Backup, Server, Service

IN_PROGRESS = (BackupStatus.IN_PROGRESS,)


async def internal_backup(
    ctx: JobContext,
    backup: Backup,
    service: Service,
    server: Server,
    job: str,
    on_progress: ProgressCallback | None,
) -> dict[str, Any]:
    """Returns what the row records of the dump: its path, sha256 and size (and, compressed,
    those of the stored file)."""
    async with ctx.connect(server) as transport, counted_beside_export(transport, service) as figures:
        await must_run(transport, files.ensure_dir(server.backup_dir), "Checking the backup directory")
        backup = await compress_when_the_server_can(ctx, transport, backup, service)
        file_name = dump_in_backup_dir(server.backup_dir, backup.file_path or "")
        final_path = join_remote(server.backup_dir, file_name)
        partial_path = final_path + PARTIAL_SUFFIX
        compressed = backup.compression == "zstd"
        try:
            step = f"exporting {service.engine} service {service.name}"
            report(on_progress, job, step)
            export = must_run(
                transport,
                files.export_to_partial(service.engine, service.name, server.backup_dir, file_name),
                f"Export of {service.engine} service {service.name}",
                timeout=ctx.settings.command_timeout,
                on_output=output_reporter(ctx, on_progress, job, step),
            )
            if on_progress is None:
                await export
            else:  # the dump's size so far, as bytes moved (its total is not known before)
                await while_measuring(
                    transport,
                    partial_path,
                    export,
                    lambda size: report(on_progress, job, step, done_bytes=size),
                )
            report(on_progress, job, "checking the dump")
            checked = await must_run(transport, files.checksum(partial_path), "Checksum of the dump")
            stored_sha256, stored_size = files.parse_checksum(checked.stdout)
            sha256, size = stored_sha256, stored_size
            if compressed:
                plain = await must_run(
                    transport,
                    files.plain_checksum(partial_path),
                    "Checksum of the decompressed dump",
                    timeout=ctx.settings.command_timeout,
                )
                sha256, size = files.parse_checksum(plain.stdout)
            if size == 0:
                raise RemoteError(f"Export of {service.name} produced an empty dump")
            await must_run(transport, files.finalize(partial_path, final_path), "Renaming the dump")
            counted = await figures()
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    transport.run(files.remove_partial(partial_path), timeout=CLEANUP_COMMAND_TIMEOUT)
                )
            raise
    values: dict[str, Any] = {"file_path": final_path, "sha256": sha256, "size_bytes": size, **counted}
    if compressed:
        values |= {"stored_sha256": stored_sha256, "stored_size_bytes": stored_size}
    return values


async def compress_when_the_server_can(
    ctx: JobContext, transport: Transport, backup: Backup, service: Service
) -> Backup:
    """`--compression auto` on the server's disk: zstd when the server has it (and the
    engine's export is not compressed already); the dump's name says so from the start,
    so what a dead job leaves is found by its name."""
    if backup.compression is not None or not compresses(service.compression, service.engine):
        return backup
    probe = await transport.run("command -v zstd", timeout=PROBE_COMMAND_TIMEOUT)
    if not probe.ok:
        return backup
    assert backup.id is not None
    name = Layers(compressed=True).name(backup.file_path or "")
    updated = await rows.update_if_ours(
        ctx.db, Backup, backup.id, ctx.worker_id, IN_PROGRESS, file_path=name, compression="zstd"
    )
    if updated is None:
        raise DflowError(f"Backup {backup.id} is no longer run by this worker (stale job cleanup settled it)")
    return updated
