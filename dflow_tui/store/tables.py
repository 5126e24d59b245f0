"""The state tables: SQLModel declarations, no engine and no I/O.

Status, trigger, type and kind columns hold the StrEnums of `core.enums`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint, text
from sqlmodel import Column, Field, SQLModel

from dflow_tui.core.enums import (
    BackupStatus,
    BackupType,
    Compression,
    Engine,
    IncidentKind,
    NotifyEvent,
    OperationKind,
    OperationStatus,
    ProviderStatus,
    Trigger,
    WorkerKind,
)
from dflow_tui.core.permissions import Role
from dflow_tui.core.tiers import Tier
from dflow_tui.settings import (
    DEFAULT_BACKUP_DIR,
    DEFAULT_MAX_JOBS,
    DEFAULT_PARALLEL,
    DEFAULT_PREFIX,
    DEFAULT_SSH_PORT,
)
from dflow_tui.store.types import StrEnumType, UTCDateTime


def _time(*, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=index))


def _enum(
    enum: type[StrEnum], default: StrEnum | None = None, *, nullable: bool = False, index: bool = False
) -> Any:
    return Field(default=default, sa_column=Column(StrEnumType(enum), nullable=nullable, index=index))


class StorageProvider(SQLModel, table=True):
    """An S3-compatible bucket. Its secret key lives in the OS keyring, never here."""

    __tablename__ = "storage_providers"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    endpoint_url: str
    region: str
    bucket: str
    prefix: str = DEFAULT_PREFIX
    access_key_id: str
    status: ProviderStatus = _enum(ProviderStatus, ProviderStatus.UNVERIFIED)
    # Parts uploaded (and ranges downloaded) at once: parallel streams are what make S3 fast.
    parallel: int = DEFAULT_PARALLEL
    # Public keys (age1…, ssh-ed25519 …, ssh-rsa …), one a line: dumps stored here are
    # encrypted to all of them. None: not encrypted.
    recipients: str | None = None
    status_reason: str | None = None
    verified_at: datetime | None = _time()
    created_at: datetime | None = _time()


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(index=True, unique=True)
    role: Role = _enum(Role)
    created_by: str | None = None
    created_at: datetime | None = _time()


class AuditEntry(SQLModel, table=True):
    """One action on backups or policy: who, when, what, on what, and how it ended."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _time(index=True)
    actor: str
    action: str = Field(index=True)
    service_path: str | None = Field(default=None, index=True)
    target: str | None = None
    result: str
    detail: str | None = None


class Server(SQLModel, table=True):
    __tablename__ = "servers"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    local: bool = False
    host: str | None = None
    port: int = DEFAULT_SSH_PORT
    user: str | None = None
    key_path: str | None = None
    backup_dir: str = DEFAULT_BACKUP_DIR
    max_jobs: int = DEFAULT_MAX_JOBS  # queued jobs workers run here at once, all workers together
    created_at: datetime | None = _time()


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    server_id: int | None = Field(default=None, foreign_key="servers.id")
    legacy: bool = False
    created_at: datetime | None = _time()


class Environment(SQLModel, table=True):
    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    name: str
    server_id: int | None = Field(default=None, foreign_key="servers.id")
    created_at: datetime | None = _time()


class Service(SQLModel, table=True):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("environment_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    environment_id: int = Field(foreign_key="environments.id", index=True)
    name: str
    engine: Engine = _enum(Engine, Engine.POSTGRES)
    destination: BackupType = _enum(BackupType, BackupType.INTERNAL)
    compression: Compression = _enum(Compression, Compression.AUTO)
    provider_id: int | None = Field(default=None, foreign_key="storage_providers.id")
    schedule_failures: int = 0
    schedule_error: str | None = None
    retry_after: datetime | None = _time()
    # How long past its shortest tier's interval a success may be missing before the
    # service is late (None: half that interval).
    rpo_grace_seconds: int | None = None
    ping_url: str | None = None  # told when its backups start, succeed or fail (jobs/pings.py)
    # When its schedule went from off to on: a service never backed up since is late
    # once its recovery point has passed.
    schedule_since: datetime | None = _time()
    # How often the scheduler queues a restore drill of its newest successful backup.
    drill_every: Tier | None = _enum(Tier, nullable=True)
    created_at: datetime | None = _time()


class ScheduleTier(SQLModel, table=True):
    """One enabled tier of one service; none at all means the schedule is off."""

    __tablename__ = "schedule_tiers"
    __table_args__ = (UniqueConstraint("service_id", "tier"),)
    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="services.id", index=True)
    tier: Tier = _enum(Tier)


class WorkerRecord(SQLModel, table=True):
    """A process that runs jobs (a `dflow-tui worker`, or an open TUI)."""

    __tablename__ = "workers"
    id: str = Field(primary_key=True)
    kind: WorkerKind = _enum(WorkerKind, WorkerKind.WORKER)
    started_at: datetime | None = _time()
    heartbeat_at: datetime | None = _time()
    stopped_at: datetime | None = _time()


class SchedulerLock(SQLModel, table=True):
    """One row: who runs the scheduler pass now. Only one pass at a time, across hosts."""

    __tablename__ = "scheduler_lock"
    id: int = Field(default=1, primary_key=True)
    holder: str | None = None
    expires_at: datetime | None = _time()


_ONE_IN_PROGRESS = text("status = 'in-progress'")
_KEPT_SCHEDULED_SUCCESS = text("status = 'succeeded' AND \"trigger\" = 'scheduled' AND deleted_at IS NULL")
_ONE_ACTIVE_OPERATION = text("status IN ('queued', 'running')")


class Backup(SQLModel, table=True):
    __tablename__ = "backups"
    # The database itself guarantees one running backup per service, whoever asks.
    __table_args__ = (
        Index(
            "one_backup_in_progress_per_service",
            "service_id",
            unique=True,
            sqlite_where=_ONE_IN_PROGRESS,
            postgresql_where=_ONE_IN_PROGRESS,
        ),
        # A scheduler pass asks each scheduled tier for its last kept success: one seek each.
        Index(
            "last_scheduled_success",
            "service_id",
            "schedule_tier",
            "created_at",
            sqlite_where=_KEPT_SCHEDULED_SUCCESS,
            postgresql_where=_KEPT_SCHEDULED_SUCCESS,
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="services.id", index=True)
    type: BackupType = _enum(BackupType, BackupType.INTERNAL)
    status: BackupStatus = _enum(BackupStatus, BackupStatus.IN_PROGRESS, index=True)
    trigger: Trigger = _enum(Trigger, Trigger.MANUAL)
    schedule_tier: Tier | None = _enum(Tier, nullable=True)
    server_id: int | None = Field(default=None, foreign_key="servers.id")
    file_path: str | None = None
    bucket: str | None = None
    object_key: str | None = None
    provider_id: int | None = Field(default=None, foreign_key="storage_providers.id")
    version_id: str | None = None
    # The plain dump, as the engine exported it: what a restore checks on the server.
    size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    sha256: str | None = None
    # What is stored (compressed and/or encrypted); None: the plain dump itself.
    stored_size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    stored_sha256: str | None = None
    compression: str | None = None  # "zstd", or None
    encrypted_for: str | None = None  # fingerprints of the recipients, comma-separated
    error: str | None = None
    # What the live service held just before the export (tables, rows; redis: -1, keys):
    # what a drill of this backup expects to find.
    probe_tables: int | None = None
    probe_rows: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    requested_by: str | None = None
    worker_id: str | None = None
    # Who asked to stop it; the job sees it at its next heartbeat and stops.
    cancel_requested_by: str | None = None
    created_at: datetime | None = _time()
    started_at: datetime | None = _time()
    finished_at: datetime | None = _time()
    heartbeat_at: datetime | None = _time()
    deleted_at: datetime | None = _time()


class ServiceCopy(SQLModel, table=True):
    """One more place a service's backups go, beside its destination (the primary): the
    server's disk (`internal`) or a verified provider. None: its backups go to one place."""

    __tablename__ = "service_copies"
    __table_args__ = (UniqueConstraint("service_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="services.id", index=True)
    position: int  # 1, 2, … in the order they were given (the primary is 0)
    type: BackupType = _enum(BackupType)
    provider_id: int | None = Field(default=None, foreign_key="storage_providers.id")


class BackupCopy(SQLModel, table=True):
    """Where one backup's export was also stored, beside its primary (the backup row itself):
    its own place, figures of the stored bytes, layers, outcome and removal. The plain dump's
    sha256 and size are the backup's: one export for every copy."""

    __tablename__ = "backup_copies"
    __table_args__ = (UniqueConstraint("backup_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    backup_id: int = Field(foreign_key="backups.id", index=True)
    position: int
    type: BackupType = _enum(BackupType)
    status: BackupStatus = _enum(BackupStatus, BackupStatus.IN_PROGRESS)
    server_id: int | None = Field(default=None, foreign_key="servers.id")
    file_path: str | None = None
    provider_id: int | None = Field(default=None, foreign_key="storage_providers.id")
    bucket: str | None = None
    object_key: str | None = None
    version_id: str | None = None
    stored_size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    stored_sha256: str | None = None
    compression: str | None = None  # "zstd", or None
    encrypted_for: str | None = None  # fingerprints of the recipients, comma-separated
    error: str | None = None  # why it failed, or why it could not be removed yet
    created_at: datetime | None = _time()
    finished_at: datetime | None = _time()
    deleted_at: datetime | None = _time()


class Operation(SQLModel, table=True):
    """A restore or a delete acting on one backup."""

    __tablename__ = "operations"
    __table_args__ = (
        Index(
            "one_active_operation_per_backup",
            "backup_id",
            unique=True,
            sqlite_where=_ONE_ACTIVE_OPERATION,
            postgresql_where=_ONE_ACTIVE_OPERATION,
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    backup_id: int = Field(foreign_key="backups.id", index=True)
    kind: OperationKind = _enum(OperationKind)
    status: OperationStatus = _enum(OperationStatus, OperationStatus.QUEUED, index=True)
    progress: float = 0.0
    error: str | None = None
    requested_by: str | None = None
    worker_id: str | None = None
    cancel_requested_by: str | None = None
    # A restore backs up the live database first when asked to (the safety backup).
    safety_backup: bool = False
    safety_backup_id: int | None = Field(default=None, foreign_key="backups.id")
    # A restore into another service of the same engine (None: into the backup's own).
    target_service_id: int | None = Field(default=None, foreign_key="services.id")
    # A drill's throwaway service: its name is written before it is created, and
    # drill_created_at once `dokku ENGINE:create` made it; only such a service is ever destroyed.
    drill_service: str | None = None
    drill_created_at: datetime | None = _time()
    probe: str | None = None  # what the drill counted in it ("3 tables, 2000 rows", "12 keys")
    # Which of the backup's places its dump was read from ("the copy in r2"): a restore's or
    # drill's when the backup has copies, a copy's always.
    restored_from: str | None = None
    copy_to: str | None = None  # a copy: where it goes (`internal` or a provider's name)
    # Set when it reached the step that cannot be stopped halfway (a restore's import,
    # a delete's removal): from then on a cancel request is refused.
    irreversible_at: datetime | None = _time()
    created_at: datetime | None = _time()
    started_at: datetime | None = _time()
    finished_at: datetime | None = _time()
    heartbeat_at: datetime | None = _time()


_OPEN = text("closed_at IS NULL")
_PENDING = text("sent_at IS NULL AND given_up_at IS NULL")


class Notifier(SQLModel, table=True):
    """Somewhere messages go (Slack, e-mail, a webhook…): its apprise URL holds tokens,
    so it lives in the keyring (`secrets.notifier_secret_name`), never here."""

    __tablename__ = "notifiers"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    events: str  # the NotifyEvents it is told of, comma-separated
    created_by: str | None = None
    created_at: datetime | None = _time()


class Incident(SQLModel, table=True):
    """A failure streak or a late spell of one service, open until its next success: one
    message when it opens, reminders while it lasts, one when it ends."""

    __tablename__ = "incidents"
    # The database itself keeps one open incident of a kind per service, so that two
    # workers seeing the same failure or lateness open it (and announce it) once.
    __table_args__ = (
        Index(
            "one_open_incident_per_kind",
            "service_id",
            "kind",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="services.id", index=True)
    kind: IncidentKind = _enum(IncidentKind)
    detail: str | None = None  # the latest error, for reminders
    opened_at: datetime | None = _time()
    reminded_at: datetime | None = _time()  # when it was last announced (opening or reminder)
    closed_at: datetime | None = _time()


class Notification(SQLModel, table=True):
    """One message for one notifier: written with the event that caused it, in the same
    transaction, then delivered (and retried) by whichever worker claims it."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("pending_notifications", "next_attempt_at", sqlite_where=_PENDING, postgresql_where=_PENDING),
    )
    id: int | None = Field(default=None, primary_key=True)
    notifier_id: int = Field(foreign_key="notifiers.id", index=True)
    event: NotifyEvent = _enum(NotifyEvent)
    title: str
    body: str
    severity: str = "info"
    service_path: str | None = None
    created_at: datetime | None = _time()
    next_attempt_at: datetime | None = _time()
    attempts: int = 0
    last_error: str | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = _time()
    sent_at: datetime | None = _time()
    given_up_at: datetime | None = _time()
