"""The backup job's life: started → success (with where, size, sha256) or failed (with why)."""

from __future__ import annotations

import asyncio

from dflow_tui.core.models import Backup, BackupStatus, BackupType, Server, Service
from dflow_tui.jobs import records
from dflow_tui.jobs.backup_external import external_backup
from dflow_tui.jobs.backup_internal import internal_backup
from dflow_tui.jobs.context import JobContext, ProgressCallback, report
from dflow_tui.jobs.failure import failure_text
from dflow_tui.jobs.heartbeat import heartbeat


async def run_backup(ctx: JobContext, backup_id: int, on_progress: ProgressCallback | None = None) -> Backup:
    """Runs one recorded backup to its end; returns the row as it finished."""
    now = ctx.clock.now()
    backup = await records.update(
        ctx.db, Backup, backup_id, started_at=now, heartbeat_at=now, worker_id=ctx.worker_id,
    )
    job = f"backup {backup_id}"

    async def beat() -> None:
        await records.update(ctx.db, Backup, backup_id, heartbeat_at=ctx.clock.now())

    try:
        service = await records.load(ctx.db, Service, backup.service_id)
        server = await records.load(ctx.db, Server, backup.server_id)
        flow = internal_backup if backup.type == BackupType.INTERNAL.value else external_backup
        async with heartbeat(beat, ctx.settings.heartbeat_interval):
            values = await flow(ctx, backup, service, server, job, on_progress)
    except BaseException as error:
        finished = await records.update(
            ctx.db, Backup, backup_id,
            status=BackupStatus.FAILED.value, error=failure_text(error),
            finished_at=ctx.clock.now(),
        )
        report(on_progress, job, f"failed: {finished.error}")
        if isinstance(error, asyncio.CancelledError):
            raise
        return finished
    finished = await records.update(
        ctx.db, Backup, backup_id,
        status=BackupStatus.SUCCESS.value, finished_at=ctx.clock.now(), error=None, **values,
    )
    report(on_progress, job, "done", done_bytes=finished.size_bytes, total_bytes=finished.size_bytes)
    return finished
