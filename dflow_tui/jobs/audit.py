"""Writing the audit log: one row per action, whoever (or whatever) acted."""

from __future__ import annotations

from dflow_tui.core.enums import AuditResult
from dflow_tui.core.errors import STOPPED_BY
from dflow_tui.core.redact import redact
from dflow_tui.jobs.context import JobContext
from dflow_tui.store.queries import users
from dflow_tui.store.tables import AuditEntry


def entry(
    ctx: JobContext,
    actor: str,
    action: str,
    result: AuditResult,
    *,
    service_path: str | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> AuditEntry:
    """One entry, now; a secret this process has handled never reaches its detail."""
    return AuditEntry(
        at=ctx.clock.now(),
        actor=actor,
        action=action,
        result=result.value,
        service_path=service_path,
        target=target,
        detail=redact(detail, ctx.secrets) if detail else None,
    )


async def record(
    ctx: JobContext,
    actor: str,
    action: str,
    result: AuditResult,
    *,
    service_path: str | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> None:
    """Appends one entry (see `entry`)."""
    await users.add_audit_entry(
        ctx.db, entry(ctx, actor, action, result, service_path=service_path, target=target, detail=detail)
    )


async def record_many(ctx: JobContext, entries: list[AuditEntry]) -> None:
    """Appends entries made with `entry` in one transaction (a pass that queued thousands)."""
    await users.add_audit_entries(ctx.db, entries)


def job_result(succeeded: bool, error: str | None) -> AuditResult:
    """A finished job's result: a cancelled or stopped job is `cancelled`, not `failed`."""
    if succeeded:
        return AuditResult.SUCCEEDED
    if error and error.startswith(("Cancelled", STOPPED_BY)):
        return AuditResult.CANCELLED
    return AuditResult.FAILED
