"""Decisions as plain functions: where a service runs and whether an action is allowed."""

from __future__ import annotations

from datetime import datetime, timedelta

from dflow_tui.core.errors import Conflict, NoServer, NotAllowed
from dflow_tui.core.models import (
    Backup,
    BackupStatus,
    Environment,
    Operation,
    OperationStatus,
    Project,
    ProviderStatus,
    StorageProvider,
)
from dflow_tui.core.tiers import RULES, Tier, sort_tiers

ACTIVE_OPERATION_STATUSES = (OperationStatus.QUEUED.value, OperationStatus.RUNNING.value)


def resolve_server_id(environment: Environment, project: Project) -> int | None:
    """A service's server comes from its environment, else from its project."""
    return environment.server_id or project.server_id


def server_for_new_backup(service_path: str, environment: Environment, project: Project) -> int:
    if project.legacy:
        raise NotAllowed("Not allowed to create backup")
    server_id = resolve_server_id(environment, project)
    if server_id is None:
        raise NoServer(
            f"No server for {service_path}: attach one to environment "
            f"'{environment.name}' or project '{project.name}' "
            f"(dflow-tui env add {project.name} {environment.name} --server NAME, "
            f"or dflow-tui project add {project.name} --server NAME)"
        )
    return server_id


def check_restorable(backup: Backup, active_operation: Operation | None) -> None:
    if backup.deleted_at is not None:
        raise NotAllowed(f"Backup {backup.id} was deleted; it cannot be restored")
    if backup.status != BackupStatus.SUCCESS.value:
        raise NotAllowed(f"Backup {backup.id} is {backup.status}; only a successful backup can be restored")
    if active_operation is not None:
        raise Conflict(f"Backup {backup.id} already has a {active_operation.kind} {active_operation.status}")


def check_deletable(backup: Backup, active_operation: Operation | None) -> None:
    if backup.deleted_at is not None:
        raise NotAllowed(f"Backup {backup.id} is already deleted")
    if backup.status == BackupStatus.IN_PROGRESS.value:
        raise Conflict(f"Backup {backup.id} is still in progress; wait for it to finish")
    if active_operation is not None:
        raise Conflict(
            f"Backup {backup.id} has a {active_operation.kind} {active_operation.status}; "
            "wait for it to finish"
        )


def check_provider_usable(provider: StorageProvider | None, service_path: str) -> None:
    """External backups need the saved provider to exist and be verified."""
    if provider is None:
        raise NotAllowed(
            f"{service_path} is set to external storage but has no provider; save its destination again"
        )
    if provider.status != ProviderStatus.VERIFIED.value:
        raise NotAllowed(
            f"Storage provider {provider.name!r} is not verified ({provider.status_reason}); "
            f"run `dflow-tui storage verify {provider.name}`"
        )


# --- scheduling -----------------------------------------------------------------

RETRY_BASE = timedelta(minutes=10)


def due_tiers(enabled, last_success: dict, now: datetime) -> list[Tier]:
    """A tier is due when it never succeeded, or its last success is at least one interval old."""
    due = []
    for tier in sort_tiers(enabled):
        last = last_success.get(tier)
        if last is None or now - last >= RULES[tier].interval:
            due.append(tier)
    return due


def tier_to_queue(enabled, last_success: dict, now: datetime) -> Tier | None:
    """At most one tier per service per pass: the rarest due one first."""
    due = due_tiers(enabled, last_success, now)
    return due[-1] if due else None


def retry_delay(failures: int, tiers) -> timedelta:
    """Backoff after consecutive failures: 10 min, 20, 40, … capped at the shortest enabled interval."""
    cap = min((RULES[t].interval for t in sort_tiers(tiers)), default=RULES[Tier.DAILY].interval)
    return min(RETRY_BASE * (2 ** max(failures - 1, 0)), cap)


def to_prune(successes_newest_first: list, tier: Tier) -> list:
    """Older successful backups of one tier beyond what the tier keeps."""
    return successes_newest_first[RULES[tier].keep :]


def stale_reason(
    *,
    now: datetime,
    created_at: datetime,
    started_at: datetime | None,
    heartbeat_at: datetime | None,
    worker_id: str | None,
    heartbeat_timeout: timedelta,
    max_runtime: timedelta,
) -> str | None:
    """Why an unfinished job is considered dead, or None while it is alive."""
    if worker_id is None:
        if now - created_at > max_runtime:
            return (
                f"Never started: no worker picked it up within {_hours(max_runtime)} "
                "(is `dflow-tui worker` or the app running?)"
            )
        return None
    if now - (started_at or created_at) > max_runtime:
        return f"Still running after {_hours(max_runtime)}: marked failed by stale job cleanup"
    if heartbeat_at is not None and now - heartbeat_at > heartbeat_timeout:
        return (
            f"Worker {worker_id} stopped sending heartbeats (killed or crashed?): "
            "marked failed by stale job cleanup"
        )
    return None


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"
