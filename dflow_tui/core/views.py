"""Read-only shapes the faces (TUI, CLI) display. Plain data, no behaviour."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from dflow_tui.core.copies import places_label


@dataclass(frozen=True)
class ServiceView:
    id: int
    project: str
    environment: str
    name: str
    engine: str
    destination: str
    server: str | None
    legacy: bool
    provider: str | None = None
    # More places its backups are also stored in, from the same export: `internal` or a
    # provider's name, in order (none: one place).
    copies: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"{self.project}/{self.environment}/{self.name}"

    @property
    def destination_name(self) -> str:
        """Where its backups go, in a word: the provider's name, or `internal`."""
        return self.provider or self.destination


@dataclass(frozen=True)
class FleetRow:
    """One service as the Fleet view lists it."""

    service: ServiceView
    tiers: tuple[str, ...]  # enabled schedule tiers, in order; none: the schedule is off
    last_success: datetime | None  # newest kept successful backup, any trigger
    next_due: datetime | None  # when a scheduled backup is next due (None: no schedule)
    last_result: str | None  # how its newest backup ended (or `in-progress`); None: none yet
    last_size: int | None  # that backup's stored size
    state: str = "off"  # its recovery point: ok, failing, late, never, off (core.enums.RecoveryState)
    rpo: timedelta | None = None  # how old its newest success may be before it is late
    proven_at: datetime | None = None  # when its newest passed restore drill ended
    proven_backup_id: int | None = None  # the backup that drill restored
    drill_failed: bool = False  # its newest restore drill failed

    @property
    def path(self) -> str:
        return self.service.path

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.path,
            "engine": self.service.engine,
            "server": self.service.server,
            "destination": self.service.destination_name,
            "tiers": list(self.tiers),
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "last_result": self.last_result,
            "last_size": self.last_size,
            "state": self.state,
            "rpo_seconds": int(self.rpo.total_seconds()) if self.rpo is not None else None,
            "proven_at": self.proven_at.isoformat() if self.proven_at else None,
            "proven_backup_id": self.proven_backup_id,
            "drill_failed": self.drill_failed,
        }


@dataclass(frozen=True)
class ServerView:
    id: int
    name: str
    local: bool
    host: str | None
    port: int
    user: str | None
    key_path: str | None
    backup_dir: str
    max_jobs: int

    @property
    def address(self) -> str:
        if self.local:
            return "local"
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.host}:{self.port}"


@dataclass(frozen=True)
class CopyView:
    """One more place a backup was stored in, beside its primary (the backup's own fields)."""

    destination: str  # `internal`, or the provider's name
    status: str  # in-progress, succeeded, failed, or deleted (removed with its backup)
    location: str | None  # the server file, or s3://bucket/key
    stored_size: int | None  # of the bytes stored there (compressed, encrypted)
    sha256: str | None  # of the bytes stored there
    error: str | None  # why it failed, or why it could not be removed yet


@dataclass(frozen=True)
class CopiedView:
    """A copy `backup copy` made (or redone) of a backup."""

    backup_id: int
    destination: str  # `internal`, or the provider's name
    location: str | None  # the server file, or s3://bucket/key
    read_from: str  # "the primary on the server's disk"
    repaired: bool  # a failed or missing copy was redone


@dataclass(frozen=True)
class BackupView:
    id: int
    service_path: str
    type: str
    status: str
    trigger: str
    schedule_tier: str | None
    created_at: datetime | None
    finished_at: datetime | None
    size_bytes: int | None
    sha256: str | None
    error: str | None
    location: str | None
    requested_by: str | None
    # In progress but not yet taken by any process: it waits for a worker or an open app.
    queued: bool = False
    # A safety backup: the backup whose restore took it (trigger `safety`).
    safety_for_backup: int | None = None
    operation_kind: str | None = None
    operation_status: str | None = None
    operation_error: str | None = None
    # Who asked to stop the job running on this row (the backup, or its restore/delete).
    cancel_requested_by: str | None = None
    # The restore or delete running on it has passed the step after which it cannot stop.
    operation_irreversible: bool = False
    # What is stored when it is not the plain dump itself (compressed, encrypted), and how.
    stored_size_bytes: int | None = None
    stored_sha256: str | None = None
    compression: str | None = None
    encrypted_for: tuple[str, ...] = ()  # the recipients' fingerprints
    # Why the acting user may not restore, delete or cancel on this row now (None: they
    # may), as the service layer decided: faces show these words, they never re-decide.
    restore_refusal: str | None = None
    delete_refusal: str | None = None
    cancel_refusal: str | None = None
    copy_refusal: str | None = None  # `backup copy`, to any place
    # Where the primary went (`internal` or the provider's name), and the copies beside it.
    destination: str | None = None
    copies: tuple[CopyView, ...] = ()
    # The primary succeeded and a copy did not (core.copies.is_degraded).
    degraded: bool = False

    @property
    def places(self) -> str:
        """`int+b2+r2` with copies; the backup's type without."""
        if not self.copies:
            return self.type
        return places_label([self.destination or self.type, *(c.destination for c in self.copies)])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["copies"] = list(data["copies"])
        for key in ("created_at", "finished_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


@dataclass(frozen=True)
class Progress:
    """One step of a running job, for a face to show."""

    job: str
    message: str
    done_bytes: int | None = None
    total_bytes: int | None = None
    output: str | None = None  # a line the server command just wrote to stderr


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


@dataclass(frozen=True)
class OperationView:
    id: int
    backup_id: int
    kind: str
    status: str
    error: str | None
    probe: str | None = None  # a drill's count of what the restored database holds
    restored_from: str | None = None  # "the copy in r2": when the backup has copies


@dataclass(frozen=True)
class RecipientView:
    key: str  # the public key, as age and OpenSSH write it (no comment)
    fingerprint: str


@dataclass(frozen=True)
class IdentityView:
    """A private key saved in this host's keyring, by the fingerprints it opens (never its text)."""

    name: str
    fingerprints: tuple[str, ...]


@dataclass(frozen=True)
class ProviderView:
    """A storage provider as shown; the secret key is never part of it."""

    id: int
    name: str
    endpoint_url: str
    region: str
    bucket: str
    prefix: str
    access_key_id: str
    status: str
    status_reason: str | None
    verified_at: datetime | None
    parallel: int = 4  # parts or ranges in flight (settings.DEFAULT_PARALLEL)
    # Public keys dumps stored here are encrypted to, with their fingerprints; empty: none.
    recipients: tuple[RecipientView, ...] = ()

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if data["verified_at"] is not None:
            data["verified_at"] = data["verified_at"].isoformat()
        return data


@dataclass(frozen=True)
class TierStatus:
    tier: str
    label: str
    retention: str
    enabled: bool
    last_success: datetime | None
    next_due: datetime | None


@dataclass(frozen=True)
class ScheduleView:
    service_path: str
    tiers: list[TierStatus]
    active_text: str
    failures: int
    retry_after: datetime | None
    error: str | None
    state: str = "off"  # the recovery state (core.enums.RecoveryState)
    rpo: timedelta | None = None
    drill_every: str | None = None  # daily, weekly, monthly; None: drills only when asked
    proven_at: datetime | None = None  # when its newest passed restore drill ended
    proven_backup_id: int | None = None  # the backup that drill restored
    drill_error: str | None = None  # why its newest drill failed (None: it passed, or none ran)

    @property
    def enabled(self) -> list[str]:
        return [t.tier for t in self.tiers if t.enabled]

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "service": self.service_path,
            "tiers": self.enabled,
            "active": bool(self.enabled),
            "summary": self.active_text,
            "failures": self.failures,
            "retry_after": iso(self.retry_after),
            "error": self.error,
            "state": self.state,
            "rpo_seconds": int(self.rpo.total_seconds()) if self.rpo is not None else None,
            "drill_every": self.drill_every,
            "proven_at": iso(self.proven_at),
            "proven_backup_id": self.proven_backup_id,
            "drill_error": self.drill_error,
            "detail": [
                {
                    "tier": t.tier,
                    "enabled": t.enabled,
                    "retention": t.retention,
                    "last_success": iso(t.last_success),
                    "next_due": iso(t.next_due),
                }
                for t in self.tiers
            ],
        }


@dataclass(frozen=True)
class UserView:
    login: str
    role: str
    created_by: str | None
    created_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        return data


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    result: str
    service_path: str | None
    target: str | None
    detail: str | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


@dataclass(frozen=True)
class NotifierView:
    """A notifier as `notify list` and the app show it (its URL stays in the keyring)."""

    name: str
    events: tuple[str, ...]
    pending: int  # messages waiting for delivery
    failing: int  # of those, tried and not delivered yet
    given_up: int
    last_sent: datetime | None
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["events"] = list(self.events)
        data["last_sent"] = self.last_sent.isoformat() if self.last_sent else None
        return data


@dataclass(frozen=True)
class DrillView:
    """One restore drill, as `drill list` shows it."""

    id: int
    backup_id: int
    service_path: str
    status: str  # queued, running, succeeded, failed
    probe: str | None  # what it counted in the restored database
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    requested_by: str | None = None  # a user, or "scheduler"

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("started_at", "finished_at"):
            data[key] = data[key].isoformat() if data[key] is not None else None
        data["seconds"] = self.seconds
        return data
