"""Do the records, the servers' backup directories and the buckets agree?

Finds: success rows whose dump is missing, dumps and objects no row knows of,
partial files and multipart uploads no running job owns, jobs whose worker died, and
drills' throwaway services left behind. Reports; with `fix`, removes only what is certainly debris (partials of
no running job, orphaned multipart uploads, a throwaway service a finished drill made)
and runs stale cleanup. A dump no
row knows of is listed, never deleted: it may be the only copy of something.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dflow_tui.core.enums import ACTIVE_OPERATION_STATUSES, BackupStatus, BackupType, OperationKind
from dflow_tui.core.naming import PARTIAL_SUFFIX, is_dump_file_name, join_remote
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.copy_backup import copy_being_written
from dflow_tui.jobs.drill import DRILL_PREFIX, destroy_throwaway
from dflow_tui.jobs.failure import failure_text
from dflow_tui.jobs.recovery import restore_temps
from dflow_tui.jobs.stale import cleanup_stale, stale_reason_of
from dflow_tui.jobs.storage_access import open_storage
from dflow_tui.remote import files
from dflow_tui.remote.dokku import list_command, parse_service_list
from dflow_tui.settings import PROBE_COMMAND_TIMEOUT, RECOVERY_COMMAND_TIMEOUT
from dflow_tui.storage import list_incomplete_uploads, list_keys
from dflow_tui.storage.s3 import abort_upload
from dflow_tui.store.queries import backups, copies, inventory, operations, providers, rows
from dflow_tui.store.tables import Backup, BackupCopy, Server, StorageProvider


@dataclass(frozen=True)
class Finding:
    # missing-dump, orphan-dump, leftover-partial, young-partial, orphan-upload, young-upload,
    # stale-job, leftover-drill, unknown-drill-service, unreachable
    kind: str
    where: str
    detail: str
    fixed: bool = False

    @property
    def needs_attention(self) -> bool:
        """Not fixed, and not just too young to call debris yet."""
        return not self.fixed and not self.kind.startswith("young-")


async def check_consistency(ctx: JobContext, *, fix: bool = False) -> list[Finding]:
    findings: list[Finding] = []
    if fix:
        findings += [
            Finding("stale-job", f"{c.kind} {c.id}", c.reason, fixed=True) for c in await cleanup_stale(ctx)
        ]
    async with ctx.db.reading() as session:  # one snapshot of the three
        recorded = await backups.all_backups(session)
        servers = await inventory.all_servers(session)
        buckets = await providers.all_providers(session)
        kept_copies = await copies.kept_copies(session)
    live = [b for b in recorded if b.deleted_at is None]
    for backup in live:
        if backup.status == BackupStatus.IN_PROGRESS and (reason := stale_reason_of(ctx, backup)):
            findings.append(Finding("stale-job", f"backup {backup.id}", reason))
    for server in servers:
        findings += await _check_server(ctx, server, live, kept_copies, fix)
        findings += await _check_drill_services(ctx, server, fix)
    for provider in buckets:
        findings += await _check_bucket(ctx, provider, live, kept_copies, fix)
    return findings


@dataclass(frozen=True)
class LiveWork:
    """The files and uploads jobs may be writing now: never debris, whatever the listing says."""

    partials: frozenset[str]  # server paths: backups' partial files, restores' temp files
    uploads: frozenset[str]  # object keys of backups in progress


async def live_work(ctx: JobContext) -> LiveWork:
    """Read fresh, right before anything is removed: a job may have started since the listing."""
    async with ctx.db.reading() as session:
        running = await backups.in_progress(session)
        active = await operations.active_operations(session)
        running_copies = await copies.copies_of_in_progress(session)
    writing: list[Backup | BackupCopy] = [*running, *running_copies]
    partials = {b.file_path + PARTIAL_SUFFIX for b in writing if b.file_path}
    uploads = {b.object_key for b in writing if b.object_key}
    for operation in active:
        if operation.kind == OperationKind.COPY:  # `backup copy`: the file or object it writes
            partial, key = await copy_being_written(ctx, operation)
            partials.update([partial] if partial else [])
            uploads.update([key] if key else [])
        elif operation.kind != OperationKind.DELETE:  # restores and drills: their temp files
            temps = await restore_temps(ctx, operation)
            if temps is not None:
                partials.update(temps[1])
    return LiveWork(frozenset(partials), frozenset(uploads))


async def _check_server(
    ctx: JobContext, server: Server, live: list[Backup], kept_copies: list[BackupCopy], fix: bool
) -> list[Finding]:
    dumps: list[Backup | BackupCopy] = [*live, *kept_copies]
    internal = [b for b in dumps if b.type == BackupType.INTERNAL and b.server_id == server.id]
    expected = {
        b.file_path.rsplit("/", 1)[1]: _whose(b, "on the server's disk")
        for b in internal
        if b.status == BackupStatus.SUCCESS and b.file_path
    }
    where = f"server {server.name}:{server.backup_dir}"
    young = ctx.settings.debris_min_age.total_seconds()
    try:
        async with ctx.connect(server) as transport:
            listing = await transport.run(
                files.list_dir_ages(server.backup_dir), timeout=PROBE_COMMAND_TIMEOUT
            )
            ages = files.parse_ages(listing.text)
            found: list[Finding] = []
            for name, whose in sorted(expected.items()):
                if name not in ages:
                    found.append(
                        Finding("missing-dump", where, f"{whose} says success, but {name} is not there")
                    )
            for name, age in sorted(ages.items()):
                if is_dump_file_name(name) and name not in expected:
                    found.append(Finding("orphan-dump", where, f"{name} belongs to no backup record (kept)"))
                    continue
                if not (name.endswith(PARTIAL_SUFFIX) and is_dump_file_name(name[: -len(PARTIAL_SUFFIX)])):
                    continue
                path = join_remote(server.backup_dir, name)
                if path in (await live_work(ctx)).partials:
                    continue  # a job writes it now
                if age < young:
                    found.append(Finding("young-partial", where, f"{name} is {age} s old: left for now"))
                    continue
                fixed = False
                if fix and path not in (await live_work(ctx)).partials:  # asked again, just before
                    await transport.run(files.remove_partial(path), timeout=RECOVERY_COMMAND_TIMEOUT)
                    fixed = True
                found.append(Finding("leftover-partial", where, f"{name} belongs to no running job", fixed))
            return found
    except Exception as error:
        return [Finding("unreachable", where, failure_text(error, ctx.secrets))]


def _whose(row: Backup | BackupCopy, place: str) -> str:
    """Whose dump it is: `backup 12`, or `the copy of backup 12 in r2` (at `place`)."""
    return (
        f"the copy of backup {row.backup_id} {place}" if isinstance(row, BackupCopy) else f"backup {row.id}"
    )


async def _check_drill_services(ctx: JobContext, server: Server, fix: bool) -> list[Finding]:
    """Throwaway `dflow-drill-N` services on the server: one a finished drill made and could
    not destroy is a leftover (removed with `fix`, by the drill's own rule); one no drill
    record here made is reported and kept — it may be somebody's. A server no drill ran
    on is not asked (one command per engine drills used there)."""
    server_id = rows.saved_id(server.id)
    async with ctx.db.reading() as session:
        made = await operations.drill_services(session, server_id)
        engines = await operations.drill_engines_on_server(session, server_id)
    if not engines:
        return []
    where = f"server {server.name}"
    found: list[Finding] = []
    try:
        async with ctx.connect(server) as transport:
            for engine in sorted(engines):
                listing = await transport.run(list_command(engine), timeout=PROBE_COMMAND_TIMEOUT)
                for name in parse_service_list(listing.text if listing.ok else ""):
                    if not name.startswith(DRILL_PREFIX):
                        continue
                    drill = made.get(name)
                    if drill is None:
                        found.append(
                            Finding(
                                "unknown-drill-service",
                                where,
                                f"{engine} service {name} was not made by a drill recorded here (kept)",
                            )
                        )
                    elif drill.status not in ACTIVE_OPERATION_STATUSES:
                        fixed = fix and await destroy_throwaway(ctx, transport, rows.saved_id(drill.id))
                        found.append(
                            Finding(
                                "leftover-drill",
                                where,
                                f"{engine} service {name} of drill {drill.id} ({drill.status}) is still there",
                                fixed,
                            )
                        )
    except Exception as error:
        return [Finding("unreachable", where, failure_text(error, ctx.secrets))]
    return found


async def _check_bucket(
    ctx: JobContext, provider: StorageProvider, live: list[Backup], kept_copies: list[BackupCopy], fix: bool
) -> list[Finding]:
    dumps: list[Backup | BackupCopy] = [*live, *kept_copies]
    external = [b for b in dumps if b.type == BackupType.EXTERNAL and b.provider_id == provider.id]
    expected = {
        b.object_key: _whose(b, f"in {provider.name}")
        for b in external
        if b.status == BackupStatus.SUCCESS and b.object_key
    }
    where = f"s3://{provider.bucket}/{provider.prefix}"
    under = f"{provider.prefix}/" if provider.prefix else ""  # the bucket's root when there is no prefix
    young = ctx.settings.debris_min_age
    try:
        async with await open_storage(ctx, rows.saved_id(provider.id)) as client:
            keys = set(await list_keys(client, provider.bucket, under))
            uploads = await list_incomplete_uploads(client, provider.bucket, under)
            found: list[Finding] = []
            for key, whose in sorted(expected.items()):
                if key not in keys:
                    found.append(
                        Finding("missing-dump", where, f"{whose} says success, but {key} is not there")
                    )
            for key in sorted(keys):
                if is_dump_file_name(key.rsplit("/", 1)[-1]) and key not in expected:
                    found.append(Finding("orphan-dump", where, f"{key} belongs to no backup record (kept)"))
            now = datetime.now(UTC)
            for upload in uploads:
                if upload.key in (await live_work(ctx)).uploads:
                    continue  # a backup uploads it now
                if upload.initiated is not None and now - upload.initiated < young:
                    found.append(
                        Finding("young-upload", where, f"upload of {upload.key} is recent: left for now")
                    )
                    continue
                fixed = False
                if fix and upload.key not in (await live_work(ctx)).uploads:  # asked again, just before
                    await abort_upload(client, provider.bucket, upload)
                    fixed = True
                found.append(
                    Finding("orphan-upload", where, f"unfinished multipart upload of {upload.key}", fixed)
                )
            return found
    except Exception as error:
        return [Finding("unreachable", where, failure_text(error, ctx.secrets))]
