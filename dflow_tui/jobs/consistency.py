"""Do the records, the servers' backup directories and the buckets agree?

Finds: success rows whose dump is missing, dumps and objects no row knows of,
partial files and multipart uploads no running job owns, and jobs whose worker
died. Reports; with `fix`, removes only what is certainly debris (partials of
no running job, orphaned multipart uploads) and runs stale cleanup. A dump no
row knows of is listed, never deleted: it may be the only copy of something.
"""

from __future__ import annotations

from dataclasses import dataclass

from dflow_tui.core.enums import BackupStatus, BackupType
from dflow_tui.core.naming import PARTIAL_SUFFIX, is_dump_file_name, join_remote
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.failure import failure_text
from dflow_tui.jobs.stale import cleanup_stale, stale_reason_of
from dflow_tui.jobs.storage_access import open_storage
from dflow_tui.remote import files
from dflow_tui.settings import PROBE_COMMAND_TIMEOUT, RECOVERY_COMMAND_TIMEOUT
from dflow_tui.storage import list_incomplete_uploads, list_keys
from dflow_tui.store.queries import backups, inventory, providers, rows
from dflow_tui.store.tables import Backup, Server, StorageProvider


@dataclass(frozen=True)
class Finding:
    kind: str  # missing-dump, orphan-dump, leftover-partial, orphan-upload, stale-job, unreachable
    where: str
    detail: str
    fixed: bool = False


async def check_consistency(ctx: JobContext, *, fix: bool = False) -> list[Finding]:
    findings: list[Finding] = []
    if fix:
        findings += [
            Finding("stale-job", f"{c.kind} {c.id}", c.reason, fixed=True) for c in await cleanup_stale(ctx)
        ]
    async with ctx.db.session() as session:  # one snapshot of the three
        recorded = await backups.all_backups(session)
        servers = await inventory.all_servers(session)
        buckets = await providers.all_providers(session)
    live = [b for b in recorded if b.deleted_at is None]
    running = [b for b in live if b.status == BackupStatus.IN_PROGRESS]
    for backup in running:
        reason = stale_reason_of(ctx, backup)
        if reason:
            findings.append(Finding("stale-job", f"backup {backup.id}", reason))
    for server in servers:
        findings += await _check_server(ctx, server, live, running, fix)
    for provider in buckets:
        findings += await _check_bucket(ctx, provider, live, running, fix)
    return findings


async def _check_server(
    ctx: JobContext, server: Server, live: list[Backup], running: list[Backup], fix: bool
) -> list[Finding]:
    internal = [b for b in live if b.type == BackupType.INTERNAL and b.server_id == server.id]
    expected = {
        b.file_path.rsplit("/", 1)[1]: b for b in internal if b.status == BackupStatus.SUCCESS and b.file_path
    }
    in_use = {b.file_path.rsplit("/", 1)[1] + PARTIAL_SUFFIX for b in running if b.file_path}
    where = f"server {server.name}:{server.backup_dir}"
    try:
        async with ctx.connect(server) as transport:
            listing = await transport.run(files.list_dir(server.backup_dir), timeout=PROBE_COMMAND_TIMEOUT)
            names = set(listing.stdout.decode(errors="replace").split("\n")) - {""}
            found: list[Finding] = []
            for name, backup in sorted(expected.items()):
                if name not in names:
                    found.append(
                        Finding(
                            "missing-dump", where, f"backup {backup.id} says success, but {name} is not there"
                        )
                    )
            for name in sorted(names):
                if is_dump_file_name(name) and name not in expected:
                    found.append(Finding("orphan-dump", where, f"{name} belongs to no backup record (kept)"))
                elif (
                    name.endswith(PARTIAL_SUFFIX)
                    and is_dump_file_name(name[: -len(PARTIAL_SUFFIX)])
                    and name not in in_use
                ):
                    fixed = False
                    if fix:
                        await transport.run(
                            files.remove_partial(join_remote(server.backup_dir, name)),
                            timeout=RECOVERY_COMMAND_TIMEOUT,
                        )
                        fixed = True
                    found.append(
                        Finding("leftover-partial", where, f"{name} belongs to no running job", fixed)
                    )
            return found
    except Exception as error:
        return [Finding("unreachable", where, failure_text(error, ctx.secrets))]


async def _check_bucket(
    ctx: JobContext, provider: StorageProvider, live: list[Backup], running: list[Backup], fix: bool
) -> list[Finding]:
    external = [b for b in live if b.type == BackupType.EXTERNAL and b.provider_id == provider.id]
    expected = {b.object_key: b for b in external if b.status == BackupStatus.SUCCESS and b.object_key}
    in_use = {b.object_key for b in running if b.object_key}
    where = f"s3://{provider.bucket}/{provider.prefix}"
    try:
        async with await open_storage(ctx, rows.saved_id(provider.id)) as client:
            keys = set(await list_keys(client, provider.bucket, provider.prefix + "/"))
            uploads = await list_incomplete_uploads(client, provider.bucket, provider.prefix + "/")
            found: list[Finding] = []
            for key, backup in sorted(expected.items()):
                if key not in keys:
                    found.append(
                        Finding(
                            "missing-dump", where, f"backup {backup.id} says success, but {key} is not there"
                        )
                    )
            for key in sorted(keys):
                if is_dump_file_name(key.rsplit("/", 1)[-1]) and key not in expected:
                    found.append(Finding("orphan-dump", where, f"{key} belongs to no backup record (kept)"))
            for upload in uploads:
                if upload.key in in_use:
                    continue
                fixed = False
                if fix:
                    await client.raw.abort_multipart_upload(
                        Bucket=provider.bucket, Key=upload.key, UploadId=upload.upload_id
                    )
                    fixed = True
                found.append(
                    Finding("orphan-upload", where, f"unfinished multipart upload of {upload.key}", fixed)
                )
            return found
    except Exception as error:
        return [Finding("unreachable", where, failure_text(error, ctx.secrets))]
