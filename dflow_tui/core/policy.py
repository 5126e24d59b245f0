"""Decisions as plain functions: where a service runs and whether an action is allowed.

They take the facts they need as small protocols (a row of the state database fits,
so does a test's dataclass) and answer with a refusal in words, or nothing. The faces
show these words; they never re-decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from dflow_tui.core.enums import (
    ACTIVE_OPERATION_STATUSES,
    BackupStatus,
    OperationKind,
    OperationStatus,
    ProviderStatus,
    RecoveryState,
    WorkerKind,
)
from dflow_tui.core.errors import Conflict, DflowError, InvalidName, NoServer, NotAllowed
from dflow_tui.core.tiers import RULES, Tier, parse_tier, sort_tiers


class Placement(Protocol):
    """A project or an environment: it may name a server."""

    @property
    def name(self) -> str: ...
    @property
    def server_id(self) -> int | None: ...


class ProjectFacts(Placement, Protocol):
    @property
    def legacy(self) -> bool: ...


class BackupFacts(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def status(self) -> BackupStatus: ...
    @property
    def deleted_at(self) -> datetime | None: ...


class OperationFacts(Protocol):
    @property
    def kind(self) -> OperationKind: ...
    @property
    def status(self) -> OperationStatus: ...
    @property
    def irreversible_at(self) -> datetime | None: ...


class ProviderFacts(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> ProviderStatus: ...
    @property
    def status_reason(self) -> str | None: ...


@dataclass(frozen=True)
class Refusal:
    """Why an action may not happen. `busy`: other work runs now (try again later);
    otherwise it is not allowed in this state at all."""

    reason: str
    busy: bool = False

    def error(self) -> DflowError:
        return Conflict(self.reason) if self.busy else NotAllowed(self.reason)


def refuse(refusal: Refusal | None) -> None:
    """Raises the refusal's error, if there is one."""
    if refusal is not None:
        raise refusal.error()


def resolve_server_id(environment: Placement, project: Placement) -> int | None:
    """A service's server comes from its environment, else from its project."""
    return environment.server_id or project.server_id


def server_for_new_backup(service_path: str, environment: Placement, project: ProjectFacts) -> int:
    if project.legacy:
        raise NotAllowed(
            f"Not allowed to create backup: project '{project.name}' is of the legacy managed type, "
            "whose databases are not backed up from here; add the service to a project on a "
            "self-managed server (dflow-tui project add NAME --server SERVER) and back it up there"
        )
    server_id = resolve_server_id(environment, project)
    if server_id is None:
        raise NoServer(
            f"No server for {service_path}: attach one to environment "
            f"'{environment.name}' or project '{project.name}' "
            f"(dflow-tui env add {project.name} {environment.name} --server NAME, "
            f"or dflow-tui project add {project.name} --server NAME)"
        )
    return server_id


def is_active(operation: OperationFacts | None) -> bool:
    return operation is not None and operation.status in ACTIVE_OPERATION_STATUSES


RUNNING_WORDS = {
    OperationKind.RESTORE: "restoring",
    OperationKind.DELETE: "deleting",
    OperationKind.DRILL: "drilling",
    OperationKind.COPY: "copying",
}


def restore_refusal(backup: BackupFacts, operation: OperationFacts | None) -> Refusal | None:
    """May this backup be restored now? `operation` is the latest one on it, if any."""
    if backup.deleted_at is not None:
        return Refusal(f"Backup {backup.id} was deleted; it cannot be restored")
    if backup.status != BackupStatus.SUCCESS:
        return Refusal(
            f"Backup {backup.id} is {BackupStatus(backup.status).phrase}; only a successful backup can be restored"
        )
    return busy_refusal(backup, operation)


def busy_refusal(backup: BackupFacts, operation: OperationFacts | None) -> Refusal | None:
    """A restore, delete, drill or copy runs on this backup now: another waits for it."""
    if operation is not None and is_active(operation):
        return Refusal(
            f"Backup {backup.id} is {RUNNING_WORDS[operation.kind]} ({operation.kind} {operation.status}); "
            "wait for it to finish",
            busy=True,
        )
    return None


def delete_refusal(backup: BackupFacts, operation: OperationFacts | None) -> Refusal | None:
    if backup.deleted_at is not None:
        return Refusal(f"Backup {backup.id} is already deleted")
    if backup.status == BackupStatus.IN_PROGRESS:
        return Refusal(f"Backup {backup.id} is still in progress; wait for it to finish", busy=True)
    return busy_refusal(backup, operation)


def cancel_refusal(backup: BackupFacts, operation: OperationFacts | None) -> Refusal | None:
    """A running backup can always be stopped; a restore until its import starts, a delete
    until it starts removing. Halfway through either, the data would be neither old nor new."""
    if backup.status == BackupStatus.IN_PROGRESS:
        return None
    if operation is not None and is_active(operation):
        if operation.irreversible_at is None:
            return None
        return Refusal(too_late_to_cancel(operation.kind, backup.id), busy=True)
    return Refusal(
        f"Backup {backup.id} is {BackupStatus(backup.status).phrase} and nothing runs on it: nothing to cancel"
    )


def writer_refusal(
    starting: OperationKind | None, running_backup_id: int | None, restoring_from: int | None
) -> Refusal | None:
    """One writer per service at a time. `starting`: a restore, or None for a backup;
    `running_backup_id`: a backup of the service in progress; `restoring_from`: the backup a
    queued or running restore of the service comes from. A backup taken while a restore
    imports would hold a half-restored database, and retention would count it."""
    if restoring_from is not None:
        return Refusal(
            f"A restore of this service (from backup {restoring_from}) is queued or running: one job "
            "writes to or reads from a service at a time; start this when it has finished",
            busy=True,
        )
    if starting == OperationKind.RESTORE and running_backup_id is not None:
        return Refusal(
            f"Backup {running_backup_id} of this service is in progress: one job writes to or reads "
            "from a service at a time; restore when it has finished",
            busy=True,
        )
    return None


def too_late_to_cancel(kind: OperationKind, backup_id: int | None) -> str:
    if kind == OperationKind.RESTORE:
        return (
            f"The restore of backup {backup_id} is importing: stopping it now would "
            "leave the database half-restored. It cannot be cancelled any more."
        )
    if kind == OperationKind.DRILL:
        return (
            f"The drill of backup {backup_id} is importing into its throwaway service: it ends by "
            "itself and destroys that service."
        )
    return f"The delete of backup {backup_id} is removing the dump: it cannot be stopped halfway."


def check_ping_url(url: str) -> str:
    """A dead-man ping URL: http(s), a host, nothing a shell or a log line could misread."""
    text = url.strip()
    scheme, _, rest = text.partition("://")
    host = rest.split("/", 1)[0]
    if scheme not in ("http", "https") or not host or any(c.isspace() or c in "\"'`$;|&<>" for c in text):
        raise InvalidName(
            f"Invalid ping URL {url!r}: give http(s)://HOST/PATH (a healthchecks.io check URL, say)"
        )
    return text


def check_max_jobs(max_jobs: int, most: int) -> int:
    """Jobs workers may run at once on one server: at least one, at most `most`."""
    if not 1 <= max_jobs <= most:
        raise InvalidName(f"Invalid job limit {max_jobs}: use 1 to {most} jobs at once per server")
    return max_jobs


def check_parallel(parallel: int, most: int) -> int:
    """Parts or ranges in flight for a provider: at least one, at most `most`."""
    if not 1 <= parallel <= most:
        raise InvalidName(f"Invalid number of parallel transfers {parallel}: use 1 to {most}")
    return parallel


def check_provider_usable(provider: ProviderFacts | None, service_path: str) -> None:
    """External backups need the saved provider to exist and be verified."""
    if provider is None:
        raise NotAllowed(
            f"{service_path} is set to external storage but has no provider; save its destination again"
        )
    if provider.status != ProviderStatus.VERIFIED:
        raise NotAllowed(
            f"Storage provider {provider.name!r} is not verified ({provider.status_reason}); "
            f"run `dflow-tui storage verify {provider.name}`"
        )


# --- scheduling -----------------------------------------------------------------

RETRY_BASE = timedelta(minutes=10)


def due_tiers(enabled: Iterable[str], last_success: dict[Tier, datetime], now: datetime) -> list[Tier]:
    """A tier is due when it never succeeded, or its last success is at least one interval old."""
    due: list[Tier] = []
    for tier in sort_tiers(enabled):
        last = last_success.get(tier)
        if last is None or now - last >= RULES[tier].interval:
            due.append(tier)
    return due


def tier_to_queue(enabled: Iterable[str], last_success: dict[Tier, datetime], now: datetime) -> Tier | None:
    """At most one tier per service per pass: the rarest due one first."""
    return rarest(due_tiers(enabled, last_success, now))


def due_at(tier: Tier, last_success: datetime | None, now: datetime) -> datetime:
    """When a tier is next due: an interval after its last success (never succeeded: now)."""
    return last_success + RULES[tier].interval if last_success is not None else now


def next_due(enabled: Iterable[str], last_success: dict[Tier, datetime], now: datetime) -> datetime | None:
    """When the service's next scheduled backup is due: the soonest of its tiers; None
    without a schedule."""
    tiers = sort_tiers(enabled)
    return soonest_due(tiers, [last_success.get(tier) for tier in tiers], now)


def soonest_due(
    tiers: Sequence[Tier], last_success: Sequence[datetime | None], now: datetime
) -> datetime | None:
    """`next_due` of tiers already parsed, each with its last success beside it."""
    return min(
        (due_at(tier, last, now) for tier, last in zip(tiers, last_success, strict=True)), default=None
    )


DEFAULT_GRACE = 0.5
"""A recovery point is the shortest tier's interval and this much of it again, unless the
service sets its own grace."""


def recovery_point(enabled: Iterable[str], grace: timedelta | None = None) -> timedelta | None:
    """How old the newest success may be before the service is late; None without a schedule."""
    tiers = sort_tiers(enabled)
    if not tiers:
        return None
    shortest = min(RULES[tier].interval for tier in tiers)
    return shortest + (grace if grace is not None else shortest * DEFAULT_GRACE)


def recovery(
    enabled: Iterable[str],
    grace_seconds: int | None,
    last_success: datetime | None,
    latest_failed: bool,
    now: datetime,
) -> tuple[RecoveryState, timedelta | None]:
    """A service's recovery state and point, from what the state database keeps of it:
    its tiers, its own grace in seconds (None: the default), its newest success, and
    whether its newest finished backup failed."""
    grace = timedelta(seconds=grace_seconds) if grace_seconds is not None else None
    rpo = recovery_point(enabled, grace)
    return recovery_state(rpo, last_success, latest_failed, now), rpo


def recovery_state(
    rpo: timedelta | None, last_success: datetime | None, latest_failed: bool, now: datetime
) -> RecoveryState:
    """`latest_failed`: the newest finished backup of the service failed."""
    if rpo is None:
        return RecoveryState.OFF
    if last_success is None:
        return RecoveryState.NEVER
    if now - last_success > rpo:
        return RecoveryState.LATE
    return RecoveryState.FAILING if latest_failed else RecoveryState.OK


def rarest(due: Iterable[str]) -> Tier | None:
    """The one tier a pass queues among a service's due tiers: the rarest."""
    ordered = sort_tiers(due)
    return ordered[-1] if ordered else None


def due_cutoffs(now: datetime) -> dict[Tier, datetime]:
    """A tier is due when its last success is at or before its cutoff (see due_tiers)."""
    return {tier: now - rule.interval for tier, rule in RULES.items()}


DRILL_TIERS = (Tier.DAILY, Tier.WEEKLY, Tier.MONTHLY)


def parse_drill_every(value: str) -> Tier | None:
    """How often a service's drills run: daily, weekly, monthly, or off (None)."""
    if value.strip().lower() == "off":
        return None
    every = parse_tier(value.strip().lower())
    if every not in DRILL_TIERS:
        raise InvalidName(f"Drills run daily, weekly or monthly (or off), not {value}")
    return every


@dataclass(frozen=True)
class DrillFacts:
    """What the scheduler knows of one service whose drills run on a schedule."""

    service_id: int
    every: Tier
    last_drill: datetime | None  # when its newest drill was asked for (any outcome)
    backup_id: int | None  # its newest successful backup
    server_id: int | None  # where that backup is
    busy: bool  # a backup of it is in progress, or that backup has an operation running


def drills_to_queue(
    facts: Iterable[DrillFacts], drilling_servers: set[int], now: datetime
) -> list[DrillFacts]:
    """The drills a pass queues: of services whose interval has passed since their last
    drill, that have a successful backup and are not busy (a drill follows the backups);
    at most one per server, and none on a server where a drill is queued or running: the
    service drilled longest ago (never: first) goes first."""
    chosen: dict[int, DrillFacts] = {}
    for fact in facts:
        if fact.backup_id is None or fact.server_id is None or fact.busy:
            continue
        if fact.server_id in drilling_servers:
            continue
        if fact.last_drill is not None and now - fact.last_drill < RULES[fact.every].interval:
            continue
        held = chosen.get(fact.server_id)
        if held is None or _drilled_before(fact, held):
            chosen[fact.server_id] = fact
    return sorted(chosen.values(), key=lambda fact: fact.service_id)


def _drilled_before(one: DrillFacts, other: DrillFacts) -> bool:
    if one.last_drill is None or other.last_drill is None:
        return one.last_drill is None and (other.last_drill is not None or one.service_id < other.service_id)
    return (one.last_drill, one.service_id) < (other.last_drill, other.service_id)


def retry_delay(failures: int, tiers: Iterable[str]) -> timedelta:
    """Backoff after consecutive failures: 10 min, 20, 40, … capped at the shortest enabled interval."""
    cap = min((RULES[t].interval for t in sort_tiers(tiers)), default=RULES[Tier.DAILY].interval)
    backoff: timedelta = RETRY_BASE * (2 ** max(failures - 1, 0))
    return min(backoff, cap)


Item = TypeVar("Item")


def to_prune(successes_newest_first: Sequence[Item], tier: Tier) -> list[Item]:
    """Older successful backups of one tier beyond what the tier keeps."""
    return list(successes_newest_first[RULES[tier].keep :])


OWNER_NAMES = {WorkerKind.CLI: "The CLI", WorkerKind.WORKER: "The worker", WorkerKind.APP: "The app"}


def owner_id(kind: WorkerKind, host: str, pid: int) -> str:
    """How a process names itself on the jobs it runs: `cli:host:pid`, `worker:host:pid`..."""
    return f"{kind.value}:{host}:{pid}"


def owner_place(worker_id: str) -> tuple[str, int] | None:
    """The host and pid at the end of an owner id (None for ids without them)."""
    parts = worker_id.rsplit(":", 2)
    if len(parts) < 2 or not parts[-1].isdigit():
        return None
    return parts[-2], int(parts[-1])


def describe_owner(worker_id: str) -> str:
    """`The CLI on host:pid`, `The worker on host:pid`, `The app on host:pid`; older rows,
    whose ids do not say, `Worker host:pid`."""
    kind, _, place = worker_id.rpartition("/")[2].partition(":")
    try:
        return f"{OWNER_NAMES[WorkerKind(kind)]} on {place}"
    except ValueError:
        return f"Worker {worker_id}"


def stale_reason(
    *,
    now: datetime,
    created_at: datetime,
    started_at: datetime | None,
    heartbeat_at: datetime | None,
    worker_id: str | None,
    heartbeat_timeout: timedelta,
    max_runtime: timedelta,
    owner_gone: bool = False,
) -> str | None:
    """Why an unfinished job is considered dead, or None while it is alive.

    Stale means nobody runs it: a job never claimed within `max_runtime`, or one whose
    owner stopped beating for `heartbeat_timeout`. A job whose heartbeat is fresh is alive,
    however long it has run (its own command timeout bounds it); an import past its point
    of no return in particular is never cut short for its age. `owner_gone`: the owner was
    a process on this host that no longer exists; its job is dead now, not in a while."""
    if worker_id is not None and owner_gone:
        return f"{describe_owner(worker_id)} is no longer running (killed?): marked failed"
    if worker_id is None:
        if now - created_at > max_runtime:
            return (
                f"Never started: no worker picked it up within {_hours(max_runtime)} "
                "(is `dflow-tui worker` or the app running?)"
            )
        return None
    last_sign_of_life = heartbeat_at or started_at or created_at
    if now - last_sign_of_life > heartbeat_timeout:
        return (
            f"{describe_owner(worker_id)} stopped sending heartbeats (killed or crashed?): "
            "marked failed by stale job cleanup"
        )
    return None


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"
