"""External backup: the export's stdout streams over SSH through the data path (zstd, age,
sha256 taps) straight into a multipart upload with several parts in flight.

No temp file on the server or here; memory holds a few parts whatever the dump's size, and
a slow bucket stops the export through the SSH window. Any failure aborts the upload (the
storage layer guarantees no partial object remains).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from dflow_tui.core.errors import RemoteError
from dflow_tui.jobs.context import JobContext, ProgressCallback, output_reporter, report
from dflow_tui.jobs.failure import command_failure
from dflow_tui.jobs.probe import counted_beside_export
from dflow_tui.jobs.storage_access import open_storage, stored_object
from dflow_tui.pipeline import backup_plan, parse_recipients, run_pipeline
from dflow_tui.remote import dokku
from dflow_tui.storage import UploadResult
from dflow_tui.storage.upload import upload_parts
from dflow_tui.store.queries import rows
from dflow_tui.store.tables import Backup, Server, Service, StorageProvider

READ_SIZE = 1024 * 1024


async def external_backup(
    ctx: JobContext,
    backup: Backup,
    service: Service,
    server: Server,
    job: str,
    on_progress: ProgressCallback | None,
) -> dict[str, Any]:
    """Returns what the row records: the plain dump's sha256 and size, the stored object's
    (when compressed or encrypted), and its version."""
    what = f"Export of {service.engine} service {service.name}"
    target = stored_object(backup)
    provider = await rows.load(ctx.db, StorageProvider, target.provider_id)
    plan = backup_plan(
        compress=backup.compression == "zstd", recipients=parse_recipients(provider.recipients or "")
    )
    sealed = plan.stored is not plan.plain
    storage = await open_storage(ctx, target.provider_id)
    async with (
        ctx.connect(server) as transport,
        storage as client,
        counted_beside_export(transport, service) as figures,
    ):
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

        def progress(_stored: int, _expected: int | None) -> None:
            report(on_progress, job, "uploading", done_bytes=total)  # bytes of the dump read so far

        async def upload(chunks: AsyncIterator[bytes]) -> UploadResult:
            return await upload_parts(
                client, target.bucket, target.key, chunks, parallel=provider.parallel, on_progress=progress
            )

        try:
            # Without layers the uploader's own sha256 is the plain dump's: no stage needed.
            uploaded = await run_pipeline(read_chunk, plan.stages if sealed else (), upload)
        except BaseException:
            process.kill()
            raise
        counted = await figures()
    values: dict[str, Any] = {"version_id": uploaded.version_id, **counted}
    if sealed:
        values |= {
            "sha256": plan.plain.sha256,
            "size_bytes": plan.plain.size,
            "stored_sha256": uploaded.sha256,
            "stored_size_bytes": uploaded.size,
        }
    else:
        values |= {"sha256": uploaded.sha256, "size_bytes": uploaded.size}
    return values
