"""Internal backup: export on the server into a partial file, checksum, then rename.

Nothing that looks like a finished dump exists on the server until the export
succeeded and was measured; any failure removes the partial file.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from dflow_tui.core.errors import RemoteError
from dflow_tui.core.naming import PARTIAL_SUFFIX, dump_in_backup_dir, join_remote
from dflow_tui.jobs.commands import must_run
from dflow_tui.jobs.context import JobContext, ProgressCallback, output_reporter, report
from dflow_tui.jobs.file_growth import while_measuring
from dflow_tui.remote import files
from dflow_tui.settings import CLEANUP_COMMAND_TIMEOUT
from dflow_tui.store.tables import Backup, Server, Service


async def internal_backup(
    ctx: JobContext,
    backup: Backup,
    service: Service,
    server: Server,
    job: str,
    on_progress: ProgressCallback | None,
) -> dict[str, Any]:
    """Returns what the row records of the dump: its path, sha256 and size."""
    file_name = dump_in_backup_dir(server.backup_dir, backup.file_path or "")
    final_path = join_remote(server.backup_dir, file_name)
    partial_path = final_path + PARTIAL_SUFFIX
    async with ctx.connect(server) as transport:
        try:
            await must_run(transport, files.ensure_dir(server.backup_dir), "Creating the backup directory")
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
            sha256, size = files.parse_checksum(checked.stdout)
            if size == 0:
                raise RemoteError(f"Export of {service.name} produced an empty dump")
            await must_run(transport, files.finalize(partial_path, final_path), "Renaming the dump")
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    transport.run(files.remove_partial(partial_path), timeout=CLEANUP_COMMAND_TIMEOUT)
                )
            raise
    return {"file_path": final_path, "sha256": sha256, "size_bytes": size}
