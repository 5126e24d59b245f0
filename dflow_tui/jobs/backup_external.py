"""External backup: the export's stdout streams over SSH straight into a multipart upload.

No temp file on the server or here; memory holds one part. Any failure aborts
the upload (the storage layer guarantees no partial object remains).
"""

from __future__ import annotations

from typing import Any

from dflow_tui.core.errors import RemoteError
from dflow_tui.jobs.context import JobContext, ProgressCallback, output_reporter, report
from dflow_tui.jobs.failure import command_failure
from dflow_tui.jobs.storage_access import open_storage, stored_object
from dflow_tui.remote import dokku
from dflow_tui.storage import upload_stream
from dflow_tui.store.tables import Backup, Server, Service

READ_SIZE = 1024 * 1024


async def external_backup(
    ctx: JobContext,
    backup: Backup,
    service: Service,
    server: Server,
    job: str,
    on_progress: ProgressCallback | None,
) -> dict[str, Any]:
    """Returns what the row records of the object: its sha256, size and version."""
    what = f"Export of {service.engine} service {service.name}"
    target = stored_object(backup)
    storage = await open_storage(ctx, target.provider_id)
    async with ctx.connect(server) as transport, storage as client:
        report(on_progress, job, f"exporting {service.name} to s3://{target.bucket}/{target.key}")
        process = await transport.start(
            dokku.export_command(service.engine, service.name),
            on_output=output_reporter(ctx, on_progress, job, "uploading"),
        )
        total = 0

        async def read_chunk() -> bytes:
            nonlocal total
            chunk = await process.read(READ_SIZE)
            total += len(chunk)
            if not chunk:
                finished = await process.wait()
                if not finished.ok:
                    raise RemoteError(command_failure(what, finished.stderr, finished.exit_status))
                if total == 0:
                    raise RemoteError(f"{what} produced an empty dump")
            return chunk

        try:

            def progress(done: int, total: int | None) -> None:
                report(on_progress, job, "uploading", done_bytes=done, total_bytes=total)

            uploaded = await upload_stream(
                client, target.bucket, target.key, read_chunk, on_progress=progress
            )
        except BaseException:
            process.kill()
            raise
    return {"sha256": uploaded.sha256, "size_bytes": uploaded.size, "version_id": uploaded.version_id}
