"""`backup copy ID --to PLACE`: one more copy of a backup that succeeded, or a copy redone.

The dump is read from the backup's first healthy place (core.copies.restore_order: the
server's disk first, then the primary, then the other copies), opened back to the plain
dump (age with an identity from here, zstd), and written with the destination's own layers:
zstd as the backup's dump is stored, age for the provider's recipients. The plain dump's
sha256 and size are checked against the backup's record on the way: a place whose dump is
missing or is not the recorded one is passed over for the next, and what was written from
it is removed. The copy's row is written once the copy is whole (a failed or missing copy's
own row is redone), so the backup is no longer degraded after a repair.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dflow_tui.core.copies import (
    CopyFacts,
    Place,
    Source,
    copy_at,
    copy_refusal,
    kept_copy_at,
    restore_order,
)
from dflow_tui.core.enums import BackupStatus, BackupType
from dflow_tui.core.errors import AlreadyExists, DflowError, InvalidName, NotAllowed, NotFound, RemoteError
from dflow_tui.core.naming import (
    PARTIAL_SUFFIX,
    dump_in_backup_dir,
    join_remote,
)
from dflow_tui.core.policy import check_provider_usable
from dflow_tui.jobs.commands import must_run, write_file
from dflow_tui.jobs.context import JobContext, ProgressCallback, report
from dflow_tui.jobs.enqueue import stored_at
from dflow_tui.jobs.failure import command_failure, failure_text
from dflow_tui.jobs.identities import identity_opening
from dflow_tui.jobs.operation import run_operation
from dflow_tui.jobs.places import Dump, dump_at
from dflow_tui.jobs.storage_access import open_storage
from dflow_tui.pipeline import (
    Identity,
    IdentityNeeded,
    Layers,
    WrongIdentity,
    backup_plan,
    parse_recipients,
    restore_plan,
    run_pipeline,
)
from dflow_tui.remote import files
from dflow_tui.remote.transport import Transport
from dflow_tui.settings import CLEANUP_COMMAND_TIMEOUT
from dflow_tui.storage import S3Client, delete_all_versions
from dflow_tui.storage.download import download_parts
from dflow_tui.storage.s3 import head
from dflow_tui.storage.upload import upload_parts
from dflow_tui.store.queries import copies, inventory, providers, rows
from dflow_tui.store.tables import Backup, BackupCopy, Operation, Server, StorageProvider

READ_SIZE = 1024 * 1024
# Refused before anything was written (the rest failed while copying).
COPY_REFUSALS = (NotAllowed, AlreadyExists, NotFound, InvalidName, IdentityNeeded, WrongIdentity)


@dataclass(frozen=True)
class CopyMade:
    copy: BackupCopy
    place: str  # `internal` or the provider's name
    read_from: str  # "the primary on the server's disk"
    repaired: bool  # a failed or missing copy's row was redone


@dataclass(frozen=True)
class _Target:
    """Where a copy of a backup at a place is written, and the row that records it."""

    server: Server
    provider: StorageProvider | None
    values: dict[str, Any]  # the copy row's place, layers and location
    compressed: bool
    recipients: list[Any]

    @property
    def partial(self) -> str | None:
        """The server file written before it is proved whole (a copy on the server's disk)."""
        path = self.values.get("file_path")
        return path + PARTIAL_SUFFIX if path else None

    @property
    def key(self) -> str | None:
        return self.values.get("object_key")


async def _target(ctx: JobContext, backup: Backup, to: Place) -> _Target:
    async with ctx.db.reading() as session:
        place = await inventory.service_rows(session, backup.service_id)
        provider = (
            await providers.provider_by_name(session, to.name) if to.type == BackupType.EXTERNAL else None
        )
    server = await rows.load(ctx.db, Server, backup.server_id)
    assert backup.created_at is not None
    compressed = backup.compression == "zstd"
    recipients = parse_recipients(provider.recipients or "") if provider is not None else []
    values = {
        "type": to.type,
        "server_id": backup.server_id,
        **stored_at(place, server, provider, backup.created_at, compressed, recipients),
    }
    return _Target(server, provider, values, compressed, recipients)


@dataclass(frozen=True)
class _Plan:
    """A copy as decided before a byte is written."""

    backup: Backup
    to: Place
    target: _Target
    reads: list[tuple[Source, Dump]]  # the places read from, in turn
    openers: list[Identity | BaseException | None]
    existing: CopyFacts | None  # the copy row at `to` (a repair redoes it)
    kept: BackupCopy | None  # ... when it says the copy is kept: refused if it is still there


async def _plan(ctx: JobContext, backup_id: int, to: Place, identity_text: str | None) -> _Plan:
    """The copy's plan, or its refusal in one sentence (nothing remote is asked)."""
    backup = await rows.load(ctx.db, Backup, backup_id)
    recorded = await copies.backup_copies(ctx.db, backup_id)
    async with ctx.db.reading() as session:
        names = await providers.provider_names(session)
    primary, facts = copies.places(backup, recorded, names)
    refusal = copy_refusal(backup_id, backup.status, backup.deleted_at is not None, primary, to)
    if refusal is not None:
        raise NotAllowed(refusal)
    target = await _target(ctx, backup, to)
    if target.provider is not None:
        check_provider_usable(target.provider, await inventory.service_path(ctx.db, backup.service_id))
    by_id = {c.id: c for c in recorded}
    reads = [(s, dump_at(backup, s, by_id)) for s in restore_order(primary, facts) if s.place.name != to.name]
    openers = await _openers(ctx, backup_id, reads, identity_text)
    kept = kept_copy_at(to, facts)
    return _Plan(
        backup, to, target, reads, openers, copy_at(to, facts), by_id[kept.copy_id] if kept else None
    )


@contextlib.asynccontextmanager
async def _reach(ctx: JobContext, target: _Target) -> AsyncIterator[tuple[Transport, S3Client | None]]:
    """The backup's server, and the destination's bucket when it is a provider."""
    async with contextlib.AsyncExitStack() as stack:
        transport = await stack.enter_async_context(ctx.connect(target.server))
        client: S3Client | None = None
        if target.provider is not None:
            provider_id = rows.saved_id(target.provider.id)
            client = await stack.enter_async_context(await open_storage(ctx, provider_id))
        yield transport, client


async def _refuse_a_kept_copy(plan: _Plan, transport: Transport, client: S3Client | None) -> None:
    if plan.kept is not None and await _still_there(transport, client, plan.kept):
        raise AlreadyExists(f"Backup {plan.backup.id} already has a copy in {plan.to.name}")


async def check_copy(ctx: JobContext, backup_id: int, to: Place, identity_text: str | None) -> bool:
    """Refuses now, in one sentence, what the copy job would refuse before writing; True
    when a copy row at `to` exists (the job redoes it)."""
    plan = await _plan(ctx, backup_id, to, identity_text)
    if plan.kept is not None:
        async with _reach(ctx, plan.target) as (transport, client):
            await _refuse_a_kept_copy(plan, transport, client)
    return plan.existing is not None


async def copy_backup(
    ctx: JobContext,
    backup_id: int,
    to: Place,
    identity_text: str | None,
    on_progress: ProgressCallback | None = None,
) -> CopyMade:
    """Makes the copy at `to` (or refuses in one sentence, before anything is written)."""
    job = f"copy of backup {backup_id}"
    plan = await _plan(ctx, backup_id, to, identity_text)
    backup, target, existing = plan.backup, plan.target, plan.existing
    async with _reach(ctx, target) as (transport, client):
        await _refuse_a_kept_copy(plan, transport, client)
        destination: _Destination
        if target.provider is not None:
            assert client is not None and target.key is not None
            destination = _ToBucket(client, target.provider, target.key)
        else:
            server = target.server
            await must_run(transport, files.ensure_dir(server.backup_dir), "Checking the backup directory")
            destination = _ToServer(transport, server, target.values["file_path"])
        failures: list[str] = []
        for (source, dump), opener in zip(plan.reads, plan.openers, strict=True):
            where = source.describe()
            if isinstance(opener, BaseException):
                failures.append(f"{where}: {failure_text(opener, ctx.secrets)}")
                continue
            report(on_progress, job, f"reading the dump from {where}, writing it to {to.name}")
            try:
                figures = await _stream(
                    ctx,
                    transport,
                    target.server,
                    backup,
                    dump,
                    opener,
                    target.compressed,
                    target.recipients,
                    destination.write,
                )
                await destination.finish()
            except asyncio.CancelledError:
                await _undo(destination)
                raise
            except Exception as error:
                await _undo(destination)
                reason = failure_text(error, ctx.secrets)
                failures.append(f"{where}: {reason}")
                report(on_progress, job, f"{where} cannot be used ({reason})")
                continue
            made = await copies.keep_copy(
                ctx.db,
                backup_id,
                existing.copy_id if existing is not None else None,
                status=BackupStatus.SUCCESS,
                error=None,
                created_at=ctx.clock.now(),
                finished_at=ctx.clock.now(),
                deleted_at=None,
                **target.values,
                **figures,
            )
            if made is None:
                await _undo(destination)
                raise DflowError(f"Backup {backup_id} was deleted meanwhile: its copy is not kept")
            return CopyMade(made, to.name, where, existing is not None)
    raise DflowError(f"No place holds a usable dump of backup {backup_id} to copy: " + "; ".join(failures))


async def run_copy(
    ctx: JobContext, operation_id: int, on_progress: ProgressCallback | None = None
) -> Operation:
    """`backup copy` as a job: its operation says where the copy goes; once made, it records
    which place the dump was read from."""

    async def body(operation: Operation) -> None:
        if operation.copy_to is None:
            raise DflowError(f"Copy operation {operation_id} names no place to copy to")
        made = await copy_backup(
            ctx,
            operation.backup_id,
            Place.of(operation.copy_to),
            ctx.identities.get(operation_id),
            on_progress,
        )
        await rows.update(ctx.db, Operation, operation_id, restored_from=made.read_from)

    return await run_operation(ctx, operation_id, body, on_progress)


async def copy_being_written(ctx: JobContext, operation: Operation) -> tuple[str | None, str | None]:
    """What a running copy operation writes: the server's partial file, or the object key."""
    if operation.copy_to is None:
        return None, None
    backup = await rows.load(ctx.db, Backup, operation.backup_id)
    try:
        target = await _target(ctx, backup, Place.of(operation.copy_to))
    except DflowError:  # its provider is gone: nothing of it can be told apart
        return None, None
    return target.partial, target.key


async def remove_unfinished_copy(ctx: JobContext, operation: Operation) -> None:
    """For stale cleanup: what a copy whose process died wrote and no copy row keeps — its
    partial file, or the whole file or object it had not recorded yet (an unfinished
    upload is left to `doctor`, which aborts the uploads no job is making)."""
    if operation.copy_to is None:
        return
    backup = await rows.load(ctx.db, Backup, operation.backup_id)
    try:
        target = await _target(ctx, backup, Place.of(operation.copy_to))
    except DflowError:  # its provider is gone: nothing of it can be told apart
        return
    path, key = target.values.get("file_path"), target.key
    kept = any(
        c.status == BackupStatus.SUCCESS
        and c.deleted_at is None
        and ((path is not None and c.file_path == path) or (key is not None and c.object_key == key))
        for c in await copies.backup_copies(ctx.db, rows.saved_id(backup.id))
    )
    with contextlib.suppress(Exception):  # a server or bucket down: doctor sees it later
        if target.provider is None and path is not None:
            server = target.server
            async with ctx.connect(server) as transport:
                await transport.run(
                    files.remove_partial(path + PARTIAL_SUFFIX), timeout=CLEANUP_COMMAND_TIMEOUT
                )
                if not kept:
                    name = dump_in_backup_dir(server.backup_dir, path)
                    await transport.run(
                        files.remove_dump(server.backup_dir, name), timeout=CLEANUP_COMMAND_TIMEOUT
                    )
        elif target.provider is not None and key is not None and not kept:
            async with await open_storage(ctx, rows.saved_id(target.provider.id)) as client:
                await delete_all_versions(client, target.provider.bucket, key)


async def _openers(
    ctx: JobContext, backup_id: int, reads: list[tuple[Source, Dump]], given: str | None
) -> list[Identity | BaseException | None]:
    """The identity that opens each place (None: not encrypted), or why none does; refused
    at once when no place can be opened here."""
    found: list[Identity | BaseException | None] = []
    for _source, dump in reads:
        try:
            found.append(await identity_opening(ctx, backup_id, list(dump.recipients), given))
        except DflowError as error:
            found.append(error)
    if reads and all(isinstance(f, BaseException) for f in found):
        first = found[0]
        assert isinstance(first, BaseException)
        raise first
    if not reads:
        raise NotAllowed(f"Backup {backup_id} has no other place to copy from")
    return found


async def _still_there(transport: Transport, client: S3Client | None, copy: BackupCopy) -> bool:
    if copy.type == BackupType.INTERNAL:
        result = await transport.run(files.is_there(copy.file_path or ""), timeout=CLEANUP_COMMAND_TIMEOUT)
        if result.exit_status == files.EXIT_GONE:
            return False
        if not result.ok:
            raise RemoteError(
                command_failure("Looking for the copy's file", result.stderr, result.exit_status)
            )
        return True
    assert client is not None and copy.bucket and copy.object_key
    return await head(client, copy.bucket, copy.object_key, version_id=copy.version_id) is not None


class _Destination:
    """Where the copy is written: `write` takes the stream, `finish` makes it final once it
    proved whole, `undo` removes what was written (an unfinished upload aborts itself)."""

    async def write(self, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
        raise NotImplementedError

    async def finish(self) -> None:
        return None

    async def undo(self) -> None:
        raise NotImplementedError


class _ToBucket(_Destination):
    def __init__(self, client: S3Client, provider: StorageProvider, key: str) -> None:
        self.client, self.provider, self.key = client, provider, key

    async def write(self, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
        uploaded = await upload_parts(
            self.client, self.provider.bucket, self.key, chunks, parallel=self.provider.parallel
        )
        return {
            "version_id": uploaded.version_id,
            "stored_sha256": uploaded.sha256,
            "stored_size_bytes": uploaded.size,
        }

    async def undo(self) -> None:
        await delete_all_versions(self.client, self.provider.bucket, self.key)


class _ToServer(_Destination):
    """Into the `.partial` file beside the final name; measured, renamed once proved whole."""

    def __init__(self, transport: Transport, server: Server, final: str) -> None:
        self.transport, self.server, self.final = transport, server, final
        self.partial = final + PARTIAL_SUFFIX
        self.finished = False

    async def write(self, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
        await write_file(self.transport, self.partial, chunks)
        checked = await must_run(
            self.transport, files.checksum(self.partial), "Checksum of the dump on the server"
        )
        sha256, size = files.parse_checksum(checked.stdout)
        return {"stored_sha256": sha256, "stored_size_bytes": size, "version_id": None}

    async def finish(self) -> None:
        await must_run(self.transport, files.finalize(self.partial, self.final), "Renaming the dump")
        self.finished = True

    async def undo(self) -> None:
        if self.finished:
            name = dump_in_backup_dir(self.server.backup_dir, self.final)
            await self.transport.run(
                files.remove_dump(self.server.backup_dir, name), timeout=CLEANUP_COMMAND_TIMEOUT
            )
            return
        await self.transport.run(files.remove_partial(self.partial), timeout=CLEANUP_COMMAND_TIMEOUT)


async def _undo(destination: _Destination) -> None:
    with contextlib.suppress(Exception):
        await asyncio.shield(destination.undo())


async def _stream(
    ctx: JobContext,
    transport: Transport,
    server: Server,
    backup: Backup,
    dump: Dump,
    identity: Identity | None,
    compressed: bool,
    recipients: list[Any],
    write: Callable[[AsyncIterator[bytes]], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """One place's stored bytes → the plain dump (checked against the record) → the
    destination's layers → the destination. Returns what the copy's row records."""
    opened = restore_plan(dump.layers, identity=identity, encrypted_for=list(dump.recipients))
    sealed = backup_plan(compress=compressed, recipients=recipients)
    stages = [*opened.stages, *[s for s in sealed.stages if s is not sealed.plain]]
    if dump.file_path is not None:
        path = join_remote(server.backup_dir, dump_in_backup_dir(server.backup_dir, dump.file_path))
        sending = await transport.start(files.send_file(path))

        async def from_server() -> bytes:
            chunk = await sending.read(READ_SIZE)
            if chunk:
                return chunk
            sent = await sending.wait()
            if sent.exit_status == files.EXIT_GONE:
                raise RemoteError(f"Dump {path} is missing on the server")
            if not sent.ok:
                raise RemoteError(
                    command_failure("Reading the dump on the server", sent.stderr, sent.exit_status)
                )
            return b""

        try:
            figures = await run_pipeline(from_server, stages, write)
        except BaseException:
            sending.kill()
            raise
    else:
        assert dump.stored is not None
        provider = await rows.load(ctx.db, StorageProvider, dump.stored.provider_id)
        async with await open_storage(ctx, dump.stored.provider_id) as client:
            download = await download_parts(
                client,
                dump.stored.bucket,
                dump.stored.key,
                version_id=dump.stored.version_id,
                parallel=provider.parallel,
                expected_sha256=dump.stored_sha256 if dump.layers != Layers() else backup.sha256,
            )
            chunks = aiter(download)

            async def from_bucket() -> bytes:
                return await anext(chunks, b"")

            async with download:
                figures = await run_pipeline(from_bucket, stages, write)
    if (opened.plain.sha256, opened.plain.size) != (backup.sha256, backup.size_bytes):
        raise RemoteError(
            f"The dump does not match its record (sha256 {opened.plain.sha256[:12]}…, "
            f"{opened.plain.size} bytes; expected {(backup.sha256 or '')[:12]}…, {backup.size_bytes} bytes)"
        )
    return figures
