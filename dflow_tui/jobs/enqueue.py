"""Recording a new backup: the checks, the row, and the names it will write to.

Used for manual backups (claimed at once by the process that asked) and by the
scheduler (left unclaimed for any worker). A refused request leaves no row.
"""

from __future__ import annotations

from datetime import timedelta

from dflow_tui.core.engines import compresses
from dflow_tui.core.enums import BackupStatus, BackupType, Compression, Trigger
from dflow_tui.core.naming import dump_file_name, join_remote, object_key
from dflow_tui.core.policy import check_provider_usable, refuse, server_for_new_backup, writer_refusal
from dflow_tui.core.tiers import Tier
from dflow_tui.jobs.context import JobContext
from dflow_tui.pipeline import Layers, parse_recipients
from dflow_tui.store.queries import backups, inventory, operations, providers, rows
from dflow_tui.store.tables import Backup, Server

ONE_MILLISECOND = timedelta(milliseconds=1)


async def record_backup(
    ctx: JobContext,
    service_id: int,
    *,
    trigger: Trigger,
    tier: Tier | None,
    actor: str,
    claimed: bool,
    safety_for: int | None = None,
) -> Backup:
    """`safety_for`: the restore operation this backup is the safety backup of (the one
    restore a backup may run beside: it runs first, inside that restore)."""
    # One transaction: the checks, the name's timestamp and the row agree.
    async with ctx.db.session() as session:
        await inventory.lock_service(session, service_id)  # against a restore starting right now
        place = await inventory.service_rows(session, service_id)
        service, path = place.service, place.path
        server_id = server_for_new_backup(path, place.environment, place.project)
        restoring = await operations.active_restore_of_service(session, service_id)
        if restoring is not None and restoring.id != safety_for:
            refuse(writer_refusal(None, None, restoring.backup_id))
        server = await rows.get(session, Server, server_id)
        now = ctx.clock.now()
        latest = await backups.latest_created_at(session, service_id)
        if latest is not None and latest >= now:  # dump names are unique to the millisecond
            now = latest + ONE_MILLISECOND
        backup = Backup(
            service_id=service_id,
            type=service.destination,
            status=BackupStatus.IN_PROGRESS,
            trigger=trigger,
            schedule_tier=tier,
            server_id=server_id,
            requested_by=actor,
            worker_id=ctx.worker_id if claimed else None,
            created_at=now,
            heartbeat_at=now if claimed else None,
        )
        if service.destination == BackupType.EXTERNAL:
            compressed = compresses(service.compression, service.engine)
        else:  # on the server: `auto` becomes zstd in the job, when the server has zstd
            compressed = service.compression == Compression.ZSTD
        backup.compression = "zstd" if compressed else None
        if service.destination == BackupType.EXTERNAL:
            provider = await providers.provider_of(session, service)
            check_provider_usable(provider, path)
            assert provider is not None  # check_provider_usable refuses a missing provider
            recipients = parse_recipients(provider.recipients or "")
            backup.encrypted_for = ",".join(r.fingerprint for r in recipients) or None
            backup.provider_id = provider.id
            backup.bucket = provider.bucket
            suffix = Layers(compressed=compressed, encrypted=bool(recipients)).suffix
            backup.object_key = object_key(
                provider.prefix, place.project.name, place.environment.name, service.name, now, suffix
            )
        else:
            name = Layers(compressed=compressed).name(dump_file_name(service.name, now))
            backup.file_path = join_remote(server.backup_dir, name)
        return await backups.insert_backup(session, backup, path)
