"""The restore job: get the dump onto the server, prove it is the recorded one, import it.

Internal dumps are already on the server. External ones are streamed from the
bucket into a private temp file beside them, which is removed afterwards, on
failure too. A dump whose sha256 or size differs from its record is never imported.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from dflow_tui.core.copies import restore_order
from dflow_tui.core.enums import BackupStatus, BackupType, Trigger
from dflow_tui.core.errors import Cancelled, Conflict, DflowError, RemoteError
from dflow_tui.core.naming import (
    ZSTD_SUFFIX,
    dump_in_backup_dir,
    join_remote,
    restore_temp_path,
)
from dflow_tui.jobs import audit
from dflow_tui.jobs.backup import run_backup
from dflow_tui.jobs.cancel import point_of_no_return
from dflow_tui.jobs.commands import must_run, write_file
from dflow_tui.jobs.context import JobContext, ProgressCallback, output_reporter, report
from dflow_tui.jobs.enqueue import record_backup
from dflow_tui.jobs.failure import command_failure, failure_text
from dflow_tui.jobs.identities import identity_for, identity_opening
from dflow_tui.jobs.operation import run_operation
from dflow_tui.jobs.places import Dump, dump_at, primary_dump
from dflow_tui.jobs.storage_access import open_storage
from dflow_tui.pipeline import Identity, restore_plan, run_pipeline
from dflow_tui.remote import files
from dflow_tui.remote.transport import RemoteProcess, Transport
from dflow_tui.settings import CLEANUP_COMMAND_TIMEOUT
from dflow_tui.storage.download import download_parts
from dflow_tui.store.queries import copies, inventory, rows
from dflow_tui.store.tables import Backup, BackupCopy, Operation, Server, Service, StorageProvider


async def run_restore(
    ctx: JobContext, operation_id: int, on_progress: ProgressCallback | None = None
) -> Operation:
    async def body(operation: Operation) -> None:
        backup = await rows.load(ctx.db, Backup, operation.backup_id)
        # Into the backup's own service, or another one of the same engine (on any server).
        target_id = operation.target_service_id or backup.service_id
        service = await rows.load(ctx.db, Service, target_id)
        source = await rows.load(ctx.db, Server, backup.server_id)
        server = source if operation.target_service_id is None else await _server_of(ctx, target_id)
        job = f"restore of backup {backup.id}"
        # Before anything else: an encrypted backup nobody here can open is refused now.
        identity = await identity_for(ctx, backup, ctx.identities.get(operation_id))
        if operation.safety_backup and operation.safety_backup_id is None:
            await _safety_backup(ctx, operation, backup, target_id, job, on_progress)
        async with ctx.connect(server) as transport:
            await import_backup(
                ctx, transport, operation, backup, service, server, source, identity, job, on_progress
            )

    return await run_operation(ctx, operation_id, body, on_progress)


@dataclass
class _Attempt:
    importing: bool = False  # the import started: no other place is tried after this


async def import_backup(
    ctx: JobContext,
    transport: Transport,
    operation: Operation,
    backup: Backup,
    service: Service,
    server: Server,
    source: Server,
    identity: Identity | None,
    job: str,
    on_progress: ProgressCallback | None,
) -> None:
    """Gets the dump onto `server` (already there; copied from `source`, another server;
    or downloaded from the bucket), proves it is the recorded one, and imports it into
    `service` — a restore's target, or a drill's throwaway service.

    A backup with copies is read from its places in turn (core.copies.restore_order): a
    place whose dump is missing, unreadable or not the recorded one is passed over for the
    next, until the import starts. The place used is recorded on the operation."""
    await must_run(transport, files.ensure_dir(server.backup_dir), "Checking the backup directory")
    recorded = await copies.backup_copies(ctx.db, rows.saved_id(backup.id))
    if not recorded:
        dump = primary_dump(backup)
        await _import_from(
            ctx, transport, operation, backup, dump, service, server, source, identity, job, on_progress
        )
        return
    by_id = {c.id: c for c in recorded}
    names = await _providers(ctx, backup, recorded)
    primary, facts = copies.places(backup, recorded, names)
    order = restore_order(primary, facts)
    failures: list[str] = []
    for turn, place in enumerate(order):
        where = place.describe()
        report(on_progress, job, f"reading the dump from {where}")
        attempt = _Attempt()
        try:
            dump, opener = dump_at(backup, place, by_id), identity
            if place.copy_id is not None:
                given = ctx.identities.get(rows.saved_id(operation.id))
                opener = await identity_opening(ctx, backup.id, list(dump.recipients), given)
            await _import_from(
                ctx,
                transport,
                operation,
                backup,
                dump,
                service,
                server,
                source,
                opener,
                job,
                on_progress,
                attempt,
            )
        except (Cancelled, Conflict, asyncio.CancelledError):
            raise
        except Exception as error:
            if attempt.importing:
                raise
            reason = failure_text(error, ctx.secrets)
            failures.append(f"{where}: {reason}")
            if turn + 1 < len(order):
                report(
                    on_progress,
                    job,
                    f"{where} cannot be used ({reason}); trying {order[turn + 1].describe()}",
                )
            continue
        await rows.update(ctx.db, Operation, operation.id, restored_from=where)
        return
    raise DflowError(f"No place holds a usable dump of backup {backup.id}: " + "; ".join(failures))


async def _providers(ctx: JobContext, backup: Backup, recorded: list[BackupCopy]) -> dict[int, str]:
    ids = {c.provider_id for c in recorded if c.provider_id is not None}
    if backup.provider_id is not None:
        ids.add(backup.provider_id)
    return {i: (await rows.load(ctx.db, StorageProvider, i)).name for i in ids}


async def _import_from(
    ctx: JobContext,
    transport: Transport,
    operation: Operation,
    backup: Backup,
    dump: Dump,
    service: Service,
    server: Server,
    source: Server,
    identity: Identity | None,
    job: str,
    on_progress: ProgressCallback | None,
    attempt: _Attempt | None = None,
) -> None:
    """One place's dump onto `server`, checked, imported; its temp file removed after."""
    attempt = attempt or _Attempt()
    if dump.type == BackupType.INTERNAL:
        if dump.server_id is not None and dump.server_id != source.id:
            source = await rows.load(ctx.db, Server, dump.server_id)
        path = join_remote(source.backup_dir, dump_in_backup_dir(source.backup_dir, dump.file_path or ""))
        # The file as stored (a .zst is decompressed into the import on the server).
        expected = (dump.stored_sha256, dump.stored_size)
        if server.id == source.id:
            await _check_and_import(
                ctx, transport, operation, service, path, expected, job, on_progress, attempt
            )
            return
        # On another server: copied there through this process first, as it is stored.
        assert backup.created_at is not None
        # Kept compressed: the import decompresses it.
        temp = restore_temp_path(
            server.backup_dir, service.name, backup.created_at, compressed=path.endswith(ZSTD_SUFFIX)
        )
        try:
            await _copy_between_servers(ctx, source, path, transport, temp, job, on_progress)
            await _check_and_import(
                ctx, transport, operation, service, temp, expected, job, on_progress, attempt
            )
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    transport.run(files.remove_partial(temp), timeout=CLEANUP_COMMAND_TIMEOUT)
                )
        return
    assert backup.created_at is not None  # every backup is recorded with its creation time
    temp = restore_temp_path(server.backup_dir, service.name, backup.created_at)
    try:
        await _download_to_server(ctx, transport, backup, dump, identity, temp, job, on_progress)
        plain = (backup.sha256, backup.size_bytes)  # the temp file holds the plain dump
        await _check_and_import(ctx, transport, operation, service, temp, plain, job, on_progress, attempt)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(transport.run(files.remove_partial(temp), timeout=CLEANUP_COMMAND_TIMEOUT))


async def _server_of(ctx: JobContext, service_id: int) -> Server:
    async with ctx.db.reading() as session:
        return await inventory.server_of_service(session, service_id)


async def _safety_backup(
    ctx: JobContext,
    operation: Operation,
    backup: Backup,
    target_id: int,
    job: str,
    on_progress: ProgressCallback | None,
) -> None:
    """Backs up the live database before it is replaced; nothing is restored without it."""
    assert operation.id is not None and backup.id is not None
    report(on_progress, job, "taking a safety backup first")
    actor = operation.requested_by or "unknown"
    safety = await record_backup(
        ctx,
        target_id,
        trigger=Trigger.SAFETY,
        tier=None,
        actor=actor,
        claimed=True,
        safety_for=operation.id,
    )
    assert safety.id is not None
    await rows.update(ctx.db, Operation, operation.id, safety_backup_id=safety.id)
    finished = await run_backup(ctx, safety.id, on_progress)
    path = await inventory.service_path(ctx.db, target_id)
    await audit.record(
        ctx,
        actor,
        "backup.create",
        audit.job_result(finished.status == BackupStatus.SUCCESS, finished.error),
        service_path=path,
        target=f"backup {safety.id}",
        detail=finished.error or f"safety backup before the restore of backup {backup.id}",
    )
    if finished.status != BackupStatus.SUCCESS:
        raise DflowError(f"Safety backup {safety.id} failed, nothing was restored: {finished.error}")


async def _copy_between_servers(
    ctx: JobContext,
    source: Server,
    path: str,
    transport: Transport,
    temp: str,
    job: str,
    on_progress: ProgressCallback | None,
) -> None:
    """A dump on one server into a private temp file on another, streamed through this
    process as it is stored; the import checks its sha256 and size on arrival."""
    async with ctx.connect(source) as reader:
        sending = await reader.start(files.send_file(path))
        report(on_progress, job, f"copying {path} from {source.name}", done_bytes=0)

        async def sent_chunks() -> AsyncIterator[bytes]:
            moved = 0
            while chunk := await sending.read():
                yield chunk
                moved += len(chunk)
                report(on_progress, job, "copying", done_bytes=moved)

        try:
            await write_file(transport, temp, sent_chunks())
        except BaseException:
            sending.kill()
            raise
        sent = await sending.wait()
    if not sent.ok:  # the file written is short: the reader's own words say why
        raise RemoteError(
            command_failure(f"Reading the dump on {source.name}", sent.stderr, sent.exit_status)
        )


async def _download_to_server(
    ctx: JobContext,
    transport: Transport,
    backup: Backup,
    dump: Dump,
    identity: Identity | None,
    temp: str,
    job: str,
    on_progress: ProgressCallback | None,
) -> None:
    """The object's ranges, several at once and put back in order, through the data path
    backwards (age, zstd) into a private temp file on the server. The stored bytes' sha256
    is checked on the way; the plain dump's is checked on the server before the import."""
    assert dump.stored is not None
    source = dump.stored
    provider = await rows.load(ctx.db, StorageProvider, source.provider_id)
    layers = dump.layers
    plan = restore_plan(layers, identity=identity, encrypted_for=list(dump.recipients))
    sealed = plan.stored is not plan.plain
    async with await open_storage(ctx, source.provider_id) as client:
        download = await download_parts(
            client,
            source.bucket,
            source.key,
            version_id=source.version_id,
            parallel=provider.parallel,
            expected_sha256=dump.stored_sha256 if sealed else backup.sha256,
        )
        where = f"s3://{source.bucket}/{source.key}"
        report(on_progress, job, f"downloading {where}", done_bytes=0, total_bytes=download.size)
        chunks = aiter(download)

        async def read() -> bytes:
            chunk = await anext(chunks, b"")
            report(on_progress, job, "downloading", done_bytes=download.bytes_read, total_bytes=download.size)
            return chunk

        async def write_to_server(plain: AsyncIterator[bytes]) -> None:
            await write_file(transport, temp, plain)

        async with download:
            await run_pipeline(read, plan.stages if sealed else (), write_to_server)


async def _check_and_import(
    ctx: JobContext,
    transport: Transport,
    operation: Operation,
    service: Service,
    path: str,
    expected: tuple[str | None, int | None],
    job: str,
    on_progress: ProgressCallback | None,
    attempt: _Attempt | None = None,
) -> None:
    """One server command opens the dump once, prints its checksum, and imports that same
    open file only when told to: nothing can be swapped in between the check and the import.
    `expected`: the sha256 and size the record holds for that file."""
    assert operation.id is not None
    report(on_progress, job, "checking the dump against its record")
    step = f"importing into {service.engine} service {service.name}"
    process = await transport.start(
        files.checked_import(service.engine, service.name, path),
        on_output=output_reporter(ctx, on_progress, job, step),
    )
    try:
        line = await asyncio.wait_for(_first_line(process), ctx.settings.command_timeout)
        if not line:
            finished = await process.wait()
            if finished.exit_status == files.EXIT_GONE:
                raise RemoteError(f"Dump {path} is missing on the server")
            raise RemoteError(command_failure("Checking the dump", finished.stderr, finished.exit_status))
        sha256, size = files.parse_checksum(line)
        if (sha256, size) != expected:
            await process.write(b"stop\n")
            await process.write_eof()
            await process.wait()
            raise RemoteError(
                f"The dump does not match its record (sha256 {sha256[:12]}…, {size} bytes; "
                f"expected {(expected[0] or '')[:12]}…, {expected[1]} bytes): refusing to import"
            )
        await point_of_no_return(ctx, operation.id)
        if attempt is not None:
            attempt.importing = True
        report(on_progress, job, step)
        await process.write(b"import\n")
        await process.write_eof()
        finished = await asyncio.wait_for(process.wait(), ctx.settings.command_timeout)
    except BaseException:
        process.kill()
        raise
    if not finished.ok:
        what = f"Import into {service.engine} service {service.name}"
        raise RemoteError(command_failure(what, finished.stderr, finished.exit_status))


async def _first_line(process: RemoteProcess, limit: int = 256) -> bytes:
    """The script's checksum line (b"" when it ended before printing one)."""
    line = b""
    while not line.endswith(b"\n") and len(line) < limit:
        chunk = await process.read(1)
        if not chunk:
            break
        line += chunk
    return line
