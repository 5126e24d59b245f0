"""A backup with copies: one export, stored in every place at once.

When the server's disk is one of the places, the server writes the file itself (`tee`, or
`tee` into `zstd` through a fifo) while the export streams here. Here the plain stream is
hashed once and fanned out to each storage provider, each with its own stages (zstd as the
service decides, age for that provider's recipients) and its own multipart upload, through
small bounded channels: memory stays bounded per destination, and the slowest sets the pace.

A copy that fails is recorded failed, with why, and dropped while the others go on: the
backup succeeds, degraded. When the primary fails the backup fails, and whatever the copies
stored is removed, as for any unfinished backup. Services without copies never come here
(backup_internal, backup_external): their path stays as short as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dflow_tui.core.engines import compresses
from dflow_tui.core.enums import BackupStatus, BackupType
from dflow_tui.core.errors import DflowError, RemoteError
from dflow_tui.core.naming import PARTIAL_SUFFIX, dump_in_backup_dir, join_remote
from dflow_tui.jobs.backup_internal import compress_when_the_server_can
from dflow_tui.jobs.commands import must_run
from dflow_tui.jobs.context import JobContext, ProgressCallback, output_reporter, report
from dflow_tui.jobs.failure import command_failure, failure_text
from dflow_tui.jobs.probe import counted_beside_export
from dflow_tui.jobs.storage_access import StoredObject, open_storage, stored_object
from dflow_tui.pipeline import Layers, Tap, backup_plan, parse_recipients, run_pipeline
from dflow_tui.pipeline.channel import Channel
from dflow_tui.pipeline.errors import PipelineStopped
from dflow_tui.pipeline.runner import settle
from dflow_tui.remote import dokku, files
from dflow_tui.remote.transport import Transport
from dflow_tui.settings import CLEANUP_COMMAND_TIMEOUT, PROBE_COMMAND_TIMEOUT
from dflow_tui.storage import S3Client, UploadResult, delete_all_versions
from dflow_tui.storage.upload import upload_parts
from dflow_tui.store.queries import copies, rows
from dflow_tui.store.tables import Backup, BackupCopy, Server, Service, StorageProvider

READ_SIZE = 1024 * 1024
FAN_OUT_DEPTH = 2  # chunks (about 1 MiB each) waiting for one destination
PROGRESS_EVERY = 8 * 1024 * 1024


@dataclass
class Target:
    """One place the export goes: the primary (the backup row) or one of its copies."""

    name: str  # `internal`, or the provider's name: what messages call it
    type: BackupType
    compression: str | None
    copy: BackupCopy | None = None  # None: the primary
    stored: StoredObject | None = None  # external: where the object goes
    file_path: str | None = None  # internal: the final file
    client: S3Client | None = None
    provider: StorageProvider | None = None
    values: dict[str, Any] = field(default_factory=dict)  # what its record says, once it succeeded
    error: BaseException | None = None
    kept: bool = False  # something whole is stored there now (removed if the backup fails)

    @property
    def primary(self) -> bool:
        return self.copy is None


class PrimaryDropped(Exception):
    """The primary's branch stopped taking the stream: its own error is the backup's."""


async def copies_backup(
    ctx: JobContext,
    backup: Backup,
    service: Service,
    server: Server,
    job: str,
    on_progress: ProgressCallback | None,
) -> dict[str, Any]:
    """Stores the export in the primary and every copy; records each copy's outcome and
    returns what the backup row records (as the single-place flows do)."""
    backup_id = rows.saved_id(backup.id)
    recorded = [
        c for c in await copies.backup_copies(ctx.db, backup_id) if c.status == BackupStatus.IN_PROGRESS
    ]
    targets = [await _primary(ctx, backup), *[await _copy_target(ctx, c) for c in recorded]]
    async with contextlib.AsyncExitStack() as stack:
        transport = await stack.enter_async_context(ctx.connect(server))
        figures = await stack.enter_async_context(counted_beside_export(transport, service))
        try:
            await _open_places(ctx, stack, transport, backup, service, server, targets)
            plain = await _export(ctx, transport, service, server, targets, job, on_progress)
            await _settle_places(ctx, transport, server, targets, plain)
            primary = targets[0]
            if primary.error is not None:
                raise primary.error
            counted = await figures()
        except BaseException as error:
            await asyncio.shield(_discard(ctx, transport, server, targets, error))
            raise
        await _record_copies(ctx, targets)
    return targets[0].values | counted


# --- the places ---------------------------------------------------------------------------


async def _primary(ctx: JobContext, backup: Backup) -> Target:
    if backup.type == BackupType.EXTERNAL:
        stored = stored_object(backup)
        provider = await rows.load(ctx.db, StorageProvider, stored.provider_id)
        return Target(
            provider.name, BackupType.EXTERNAL, backup.compression, stored=stored, provider=provider
        )
    return Target("internal", BackupType.INTERNAL, backup.compression, file_path=backup.file_path)


async def _copy_target(ctx: JobContext, copy: BackupCopy) -> Target:
    if copy.type == BackupType.EXTERNAL:
        if copy.provider_id is None or not copy.bucket or not copy.object_key:
            raise DflowError(f"A copy of backup {copy.backup_id} names no storage provider, bucket and key")
        stored = StoredObject(copy.provider_id, copy.bucket, copy.object_key)
        provider = await rows.load(ctx.db, StorageProvider, copy.provider_id)
        return Target(
            provider.name, BackupType.EXTERNAL, copy.compression, copy=copy, stored=stored, provider=provider
        )
    return Target("internal", BackupType.INTERNAL, copy.compression, copy=copy, file_path=copy.file_path)


def _fail(target: Target, error: BaseException) -> None:
    """A copy is dropped with why; the primary's failure is the backup's."""
    if target.primary:
        raise error
    target.error = error


async def _open_places(
    ctx: JobContext,
    stack: contextlib.AsyncExitStack,
    transport: Transport,
    backup: Backup,
    service: Service,
    server: Server,
    targets: Sequence[Target],
) -> None:
    """The server's backup directory (and whether it compresses), a client per provider."""
    for target in targets:
        try:
            if target.type == BackupType.INTERNAL:
                await must_run(
                    transport, files.ensure_dir(server.backup_dir), "Checking the backup directory"
                )
                await _decide_compression(ctx, transport, backup, service, target)
            else:
                assert target.stored is not None
                target.client = await stack.enter_async_context(
                    await open_storage(ctx, target.stored.provider_id)
                )
        except Exception as error:
            _fail(target, error)


async def _decide_compression(
    ctx: JobContext, transport: Transport, backup: Backup, service: Service, target: Target
) -> None:
    """`--compression auto` on the server's disk, as an internal backup decides it."""
    if target.copy is None:
        updated = await compress_when_the_server_can(ctx, transport, backup, service)
        target.compression, target.file_path = updated.compression, updated.file_path
        return
    if target.compression is not None or not compresses(service.compression, service.engine):
        return
    probe = await transport.run("command -v zstd", timeout=PROBE_COMMAND_TIMEOUT)
    if not probe.ok:
        return
    name = Layers(compressed=True).name(target.file_path or "")
    target.copy = await copies.update_copy(ctx.db, target.copy.id, file_path=name, compression="zstd")
    target.compression, target.file_path = "zstd", name


# --- one export, every place ----------------------------------------------------------


@dataclass
class _Branch:
    """One provider's share of the stream: a bounded channel into its stages and upload."""

    target: Target
    channel: Channel
    task: asyncio.Task[UploadResult] | None = None
    open: bool = True


async def _export(
    ctx: JobContext,
    transport: Transport,
    service: Service,
    server: Server,
    targets: Sequence[Target],
    job: str,
    on_progress: ProgressCallback | None,
) -> Tap:
    """Runs the export once into every place still in the running; returns the plain
    dump's tap (its sha256 and size, computed once)."""
    what = f"Export of {service.engine} service {service.name}"
    on_disk = next((t for t in targets if t.type == BackupType.INTERNAL and t.error is None), None)
    if on_disk is not None:
        file_name = dump_in_backup_dir(server.backup_dir, on_disk.file_path or "")
        command = files.export_teeing(service.engine, service.name, server.backup_dir, file_name)
    else:
        command = dokku.export_command(service.engine, service.name)
    places = "+".join(t.name for t in targets if t.error is None)
    report(on_progress, job, f"exporting {service.name} to {places}")
    loop = asyncio.get_running_loop()
    branches = [
        _Branch(t, Channel(FAN_OUT_DEPTH, loop))
        for t in targets
        if t.type == BackupType.EXTERNAL and t.error is None
    ]
    process = await transport.start(command, on_output=output_reporter(ctx, on_progress, job, "uploading"))
    total = reported = 0

    async def read_chunk() -> bytes:
        nonlocal total, reported
        chunk = await process.read(READ_SIZE)
        total += len(chunk)
        if chunk:
            if total - reported >= PROGRESS_EVERY:
                reported = total
                report(on_progress, job, "uploading", done_bytes=total)  # bytes of the dump read so far
            return chunk
        finished = await process.wait()
        if on_disk is not None and finished.exit_status == files.EXIT_FILE_FAILED:
            _fail(on_disk, RemoteError(command_failure("Writing the dump on the server", finished.stderr, 1)))
        elif not finished.ok:
            raise RemoteError(command_failure(what, finished.stderr, finished.exit_status))
        if total == 0:
            raise RemoteError(f"{what} produced an empty dump")
        return chunk

    async def fan_out(chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            for branch in branches:
                await _hand(branch, chunk)
        for branch in branches:
            if branch.open:
                branch.channel.end()

    plain = Tap("plain-tap")
    for branch in branches:
        branch.task = loop.create_task(_upload(branch), name=f"copy-to-{branch.target.name}")
    try:
        await run_pipeline(read_chunk, (plain,), fan_out)
    except BaseException as error:
        process.kill()
        for branch in branches:
            branch.channel.abort()
        await _settle_branches(branches)
        primary = targets[0]
        if isinstance(error, PrimaryDropped) and primary.error is not None:
            raise primary.error from None
        raise
    await _settle_branches(branches)
    return plain


async def _hand(branch: _Branch, chunk: bytes) -> None:
    """Gives one chunk to a branch still taking the stream; one that failed is dropped."""
    if not branch.open:
        return
    try:
        await branch.channel.put_async(chunk)
    except PipelineStopped:
        branch.open = False
        if branch.target.primary:
            raise PrimaryDropped() from None


async def _upload(branch: _Branch) -> UploadResult:
    target = branch.target
    assert target.stored is not None and target.client is not None and target.provider is not None
    stored, client, provider = target.stored, target.client, target.provider
    plan = backup_plan(
        compress=target.compression == "zstd", recipients=parse_recipients(provider.recipients or "")
    )
    # The plain tap is the fan-out's, the stored figures the uploader's own.
    stages = [stage for stage in plan.stages if stage is not plan.plain and stage is not plan.stored]

    async def upload(chunks: AsyncIterator[bytes]) -> UploadResult:
        return await upload_parts(client, stored.bucket, stored.key, chunks, parallel=provider.parallel)

    try:
        return await run_pipeline(branch.channel.get_async, stages, upload)
    except BaseException as error:
        target.error = target.error or error
        branch.channel.abort()  # the fan-out stops handing it chunks
        raise


async def _settle_branches(branches: Sequence[_Branch]) -> None:
    """Waits for every branch to end (an upload that fails aborts itself first); records
    each one's outcome on its place. A cancellation meanwhile is held until they ended."""
    cancelled = await settle([b.task for b in branches if b.task is not None], cancel_pending=True)
    for branch in branches:
        ended = branch.task
        if ended is None:
            continue
        target = branch.target
        if ended.cancelled():
            target.error = target.error or asyncio.CancelledError()
        elif (error := ended.exception()) is not None:
            target.error = target.error or error
        else:
            uploaded = ended.result()
            target.kept = True
            target.error = None
            target.values = _object_values(uploaded)
    if cancelled:
        raise asyncio.CancelledError()


def _object_values(uploaded: UploadResult) -> dict[str, Any]:
    return {
        "version_id": uploaded.version_id,
        "stored_sha256": uploaded.sha256,
        "stored_size_bytes": uploaded.size,
    }


# --- after the export -------------------------------------------------------------------


async def _settle_places(
    ctx: JobContext, transport: Transport, server: Server, targets: Sequence[Target], plain: Tap
) -> None:
    """The plain dump's figures on each place's record; the server's file checked against
    the stream (plain) or measured (compressed), then renamed to its final name."""
    if targets[0].error is not None:
        raise targets[0].error  # the primary failed: nothing is finished anywhere
    for target in targets:
        if target.type == BackupType.EXTERNAL and target.error is None:
            assert target.stored is not None
            target.values |= {"sha256": plain.sha256, "size_bytes": plain.size}
            if target.primary and Layers.of(target.stored.key) == Layers():
                # Stored as it is: the backup row keeps one set of figures, as without copies.
                del target.values["stored_sha256"], target.values["stored_size_bytes"]
    on_disk = next((t for t in targets if t.type == BackupType.INTERNAL), None)
    if on_disk is None or (on_disk.error is not None and on_disk.file_path is None):
        return
    final = join_remote(server.backup_dir, dump_in_backup_dir(server.backup_dir, on_disk.file_path or ""))
    partial = final + PARTIAL_SUFFIX
    try:
        if on_disk.error is not None:
            raise on_disk.error
        checked = await must_run(transport, files.checksum(partial), "Checksum of the dump on the server")
        stored_sha256, stored_size = files.parse_checksum(checked.stdout)
        if on_disk.compression is None and (stored_sha256, stored_size) != (plain.sha256, plain.size):
            raise RemoteError(
                f"The dump written on the server ({stored_size} bytes) is not the one exported "
                f"({plain.size} bytes): not kept"
            )
        await must_run(transport, files.finalize(partial, final), "Renaming the dump")
    except Exception as error:
        with contextlib.suppress(Exception):
            await transport.run(files.remove_partial(partial), timeout=CLEANUP_COMMAND_TIMEOUT)
        _fail(on_disk, error)
        return
    on_disk.kept = True
    on_disk.values = {"file_path": final, "sha256": plain.sha256, "size_bytes": plain.size}
    if on_disk.compression is not None or not on_disk.primary:
        on_disk.values |= {"stored_sha256": stored_sha256, "stored_size_bytes": stored_size}


def _copy_values(target: Target) -> dict[str, Any]:
    """What a copy's row records of its place (the plain dump's figures are the backup's)."""
    return {"compression": target.compression} | {
        key: value for key, value in target.values.items() if key not in ("sha256", "size_bytes")
    }


async def _discard(
    ctx: JobContext, transport: Transport, server: Server, targets: Sequence[Target], cause: BaseException
) -> None:
    """The backup failed: what its places hold whole is removed (an unfinished upload aborts
    itself), so is the server's partial file, and its copies are recorded failed. A copy that
    cannot be removed now stays recorded as kept, with why, for a delete to finish."""
    reason = failure_text(cause, ctx.secrets)
    for target in targets:
        removed = True
        if target.kept:
            try:
                await _remove(transport, server, target)
            except Exception as failed:
                removed = False
                text = f"Kept although the backup failed: removing it failed: {failure_text(failed, ctx.secrets)}"
        if target.copy is None:
            continue
        with contextlib.suppress(Exception):
            if removed:
                values: dict[str, Any] = {
                    "status": BackupStatus.FAILED,
                    "error": f"Not kept: the backup failed ({reason})",
                }
            else:
                values = {"status": BackupStatus.SUCCESS, "error": text, **_copy_values(target)}
            await copies.update_copy(ctx.db, target.copy.id, finished_at=ctx.clock.now(), **values)
    on_disk = next((t for t in targets if t.type == BackupType.INTERNAL and t.file_path), None)
    if on_disk is not None and not on_disk.kept:
        final = join_remote(server.backup_dir, dump_in_backup_dir(server.backup_dir, on_disk.file_path or ""))
        with contextlib.suppress(Exception):
            await transport.run(files.remove_partial(final + PARTIAL_SUFFIX), timeout=CLEANUP_COMMAND_TIMEOUT)


async def _remove(transport: Transport, server: Server, target: Target) -> None:
    if target.type == BackupType.EXTERNAL:
        assert target.stored is not None and target.client is not None
        await delete_all_versions(target.client, target.stored.bucket, target.stored.key)
        return
    name = dump_in_backup_dir(server.backup_dir, target.file_path or "")
    result = await transport.run(files.remove_dump(server.backup_dir, name), timeout=CLEANUP_COMMAND_TIMEOUT)
    if not result.ok and result.exit_status != files.EXIT_GONE:
        raise RemoteError(command_failure("Removing the dump", result.stderr, result.exit_status))


async def _record_copies(ctx: JobContext, targets: Sequence[Target]) -> None:
    now = ctx.clock.now()
    for target in targets:
        if target.copy is None:
            continue
        if target.error is None:
            values: dict[str, Any] = {"status": BackupStatus.SUCCESS, "error": None, **_copy_values(target)}
        else:
            values = {"status": BackupStatus.FAILED, "error": failure_text(target.error, ctx.secrets)}
        await copies.update_copy(ctx.db, target.copy.id, finished_at=now, **values)
