"""Recording a new backup: the checks, the row, and the names it will write to.

Used for manual backups (claimed at once by the process that asked) and by the
scheduler (left unclaimed for any worker). A refused request leaves no row.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from dflow_tui.core.enums import BackupStatus, BackupType, Trigger
from dflow_tui.core.errors import Conflict
from dflow_tui.core.naming import dump_file_name, join_remote, object_key
from dflow_tui.core.policy import check_provider_usable, server_for_new_backup
from dflow_tui.jobs.context import JobContext
from dflow_tui.store.tables import Backup, Environment, Project, Server, Service, StorageProvider

ONE_MILLISECOND = timedelta(milliseconds=1)


async def record_backup(
    ctx: JobContext,
    service_id: int,
    *,
    trigger: Trigger,
    tier: str | None,
    actor: str,
    claimed: bool,
) -> Backup:
    async with ctx.db.session() as session:
        service = await session.get(Service, service_id)
        environment = await session.get(Environment, service.environment_id)
        project = await session.get(Project, environment.project_id)
        path = f"{project.name}/{environment.name}/{service.name}"
        server_id = server_for_new_backup(path, environment, project)
        server = await session.get(Server, server_id)
        now = ctx.clock.now()
        latest = (
            await session.exec(select(func.max(Backup.created_at)).where(Backup.service_id == service_id))
        ).first()
        if latest is not None and latest >= now:  # dump names are unique to the millisecond
            now = latest + ONE_MILLISECOND
        backup = Backup(
            service_id=service_id,
            type=service.destination,
            status=BackupStatus.IN_PROGRESS,
            trigger=trigger.value,
            schedule_tier=tier,
            server_id=server_id,
            requested_by=actor,
            worker_id=ctx.worker_id if claimed else None,
            created_at=now,
            heartbeat_at=now if claimed else None,
        )
        if service.destination == BackupType.EXTERNAL:
            provider = (
                await session.get(StorageProvider, service.provider_id) if service.provider_id else None
            )
            check_provider_usable(provider, path)
            backup.provider_id = provider.id
            backup.bucket = provider.bucket
            backup.object_key = object_key(provider.prefix, service.name, now)
        else:
            backup.file_path = join_remote(server.backup_dir, dump_file_name(service.name, now))
        session.add(backup)
        try:
            await session.commit()
        except IntegrityError:
            raise Conflict(f"A backup of {path} is already in progress") from None
        await session.refresh(backup)
        return backup
