"""Retention: after a scheduled backup succeeds, older successes of that tier only go,
through the normal delete flow, until the tier's count fits. Manual backups are never pruned."""

from __future__ import annotations

import logging

from dflow_tui.core.enums import OperationKind, OperationStatus
from dflow_tui.core.errors import Conflict
from dflow_tui.core.policy import to_prune
from dflow_tui.core.tiers import parse_tier
from dflow_tui.jobs import audit
from dflow_tui.jobs.context import JobContext, ProgressCallback
from dflow_tui.jobs.delete import run_delete
from dflow_tui.store.queries import backups, inventory, operations, rows
from dflow_tui.store.tables import Backup, Operation

log = logging.getLogger("dflow_tui.prune")
RETENTION_ACTOR = "retention"


async def prune_tier(
    ctx: JobContext, finished: Backup, on_progress: ProgressCallback | None = None
) -> list[Operation]:
    tier = parse_tier(finished.schedule_tier or "")
    successes = await backups.tier_successes(ctx.db, finished.service_id, tier)
    results = []
    for old in to_prune(successes, tier):
        backup_id = rows.saved_id(old.id)
        operation = await _queue_delete(ctx, backup_id)
        if operation is None:
            log.info("backup %s is busy (restore or delete running); pruned on a later run", backup_id)
            continue
        done = await run_delete(ctx, rows.saved_id(operation.id), on_progress)
        if done.status != OperationStatus.SUCCEEDED:
            log.warning("pruning backup %s failed: %s", backup_id, done.error)
        await audit.record(
            ctx,
            RETENTION_ACTOR,
            "backup.prune",
            audit.job_result(done.status == OperationStatus.SUCCEEDED, done.error),
            service_path=await inventory.service_path(ctx.db, finished.service_id),
            target=f"backup {backup_id}",
            detail=done.error or f"beyond what the {tier.value} tier keeps",
        )
        results.append(done)
    return results


async def _queue_delete(ctx: JobContext, backup_id: int) -> Operation | None:
    """A delete claimed by this process; None while another operation runs on the backup."""
    operation = Operation(
        backup_id=backup_id,
        kind=OperationKind.DELETE,
        status=OperationStatus.QUEUED,
        requested_by=RETENTION_ACTOR,
        worker_id=ctx.worker_id,
        created_at=ctx.clock.now(),
    )
    try:
        async with ctx.db.session() as session:
            return await operations.insert_operation(session, operation)
    except Conflict:
        return None
