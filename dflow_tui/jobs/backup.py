"""The backup job's life: started → success (with where, size, sha256) or failed (with why)."""

from __future__ import annotations

import contextlib

from dflow_tui.core.enums import BackupStatus, BackupType
from dflow_tui.core.errors import Conflict
from dflow_tui.jobs import pings
from dflow_tui.jobs.backup_copies import copies_backup
from dflow_tui.jobs.backup_external import external_backup
from dflow_tui.jobs.backup_internal import internal_backup
from dflow_tui.jobs.context import JobContext, ProgressCallback, report
from dflow_tui.jobs.delete import remove_dump
from dflow_tui.jobs.heartbeat import heartbeat
from dflow_tui.jobs.settle import record_failure
from dflow_tui.store.queries import copies, rows
from dflow_tui.store.tables import Backup, Server, Service

IN_PROGRESS = (BackupStatus.IN_PROGRESS,)


async def run_backup(ctx: JobContext, backup_id: int, on_progress: ProgressCallback | None = None) -> Backup:
    """Runs one claimed backup to its end; returns the row as it finished."""
    now = ctx.clock.now()
    # Only a backup this process claimed and nobody settled since: never another's row.
    started = await rows.update_if_ours(
        ctx.db, Backup, backup_id, ctx.worker_id, IN_PROGRESS, started_at=now, heartbeat_at=now
    )
    if started is None:
        current = await rows.load(ctx.db, Backup, backup_id)
        raise Conflict(
            f"Backup {backup_id} is {BackupStatus(current.status).phrase} and not run by this process: not run again"
        )
    backup = started
    job = f"backup {backup_id}"

    async def beat() -> Backup | None:
        return await rows.update_if_ours(
            ctx.db, Backup, backup_id, ctx.worker_id, IN_PROGRESS, heartbeat_at=ctx.clock.now()
        )

    pulse = None
    ping_url: str | None = None
    with_copies = False
    try:
        service = await rows.load(ctx.db, Service, backup.service_id)
        ping_url = service.ping_url
        server = await rows.load(ctx.db, Server, backup.server_id)
        await pings.ping(ping_url, "start")
        with_copies = await copies.has_copies(ctx.db, backup_id)
        if with_copies:  # one export to every place; without copies, the single-place flows
            flow = copies_backup
        else:
            flow = internal_backup if backup.type == BackupType.INTERNAL else external_backup
        key = ("backup", backup_id)
        async with heartbeat(beat, ctx.settings.heartbeat_interval, key, ctx.heartbeats, backup) as pulse:
            values = await flow(ctx, backup, service, server, job, on_progress)
    except BaseException as error:
        failed, propagate = await record_failure(ctx, Backup, backup_id, IN_PROGRESS, error, pulse)
        if with_copies:  # the flow recorded its copies; these are for when it could not
            why = f"Not kept: the backup failed ({failed.error or 'no reason given'})"
            await copies.settle_copies(ctx.db, backup_id, why, ctx.clock.now())
        report(on_progress, job, f"failed: {failed.error}")
        if propagate:
            raise
        await pings.ping(ping_url, "fail", failed.error or "failed", secrets=ctx.secrets)
        return failed
    finished = await rows.update_if_ours(
        ctx.db,
        Backup,
        backup_id,
        ctx.worker_id,
        IN_PROGRESS,
        status=BackupStatus.SUCCESS,
        finished_at=ctx.clock.now(),
        error=None,
        **values,
    )
    if finished is None:
        # Stale cleanup failed this backup while it ran: what it stored belongs to no record.
        done = await rows.load(ctx.db, Backup, backup_id)
        with contextlib.suppress(Exception):
            await remove_dump(
                ctx,
                done.model_copy(update={"status": BackupStatus.SUCCESS, **values}),
                job,
                on_progress,
            )
        report(on_progress, job, f"failed: {done.error}")
        return done
    report(on_progress, job, "done", done_bytes=finished.size_bytes, total_bytes=finished.size_bytes)
    await pings.ping(ping_url)
    return finished
