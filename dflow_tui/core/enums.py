"""The closed sets of words the domain uses: engines, backup types, statuses, triggers."""

from __future__ import annotations

from enum import StrEnum


class Engine(StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"
    MARIADB = "mariadb"
    MONGO = "mongo"
    REDIS = "redis"


class BackupType(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class BackupStatus(StrEnum):
    IN_PROGRESS = "in-progress"
    SUCCESS = "succeeded"  # the one word for it everywhere: CLI, JSON, TUI, audit
    FAILED = "failed"

    @property
    def phrase(self) -> str:
        """For a sentence: `Backup 7 is done`, `... is in progress`, `... is failed`."""
        return {"in-progress": "in progress", "succeeded": "done"}.get(self.value, self.value)


class RecoveryState(StrEnum):
    """How a service's recovery point stands (its schedule's promise), worst last."""

    OFF = "off"  # no schedule: nothing promised
    OK = "ok"  # a success within the recovery point
    FAILING = "failing"  # the latest run failed, a success is still within the recovery point
    NEVER = "never"  # scheduled, never succeeded
    LATE = "late"  # no success within the recovery point, whatever the reason

    @property
    def exit_code(self) -> int:
        """For `dflow-tui status`: 0 ok/off, 1 failing, 2 late/never (Nagios: OK, WARNING, CRITICAL)."""
        return {"off": 0, "ok": 0, "failing": 1}.get(self.value, 2)


class Trigger(StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    SAFETY = "safety"  # taken by a restore, of the live database it is about to replace


class OperationKind(StrEnum):
    RESTORE = "restore"
    DELETE = "delete"
    DRILL = "drill"  # a restore into a throwaway service, looked into, then destroyed
    COPY = "copy"  # one more copy of a backup (or its failed copy redone), read from its places


class OperationStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class AuditResult(StrEnum):
    """How an audited action ended: one vocabulary for the CLI, JSON, the TUI and the log."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"  # not allowed (a role, a policy) or clashing with running work
    CANCELLED = "cancelled"


ACTIVE_OPERATION_STATUSES: tuple[OperationStatus, ...] = (OperationStatus.QUEUED, OperationStatus.RUNNING)


class Compression(StrEnum):
    """What a service's dumps are compressed with: `auto` compresses engines whose export
    is not compressed already (see core.engines)."""

    AUTO = "auto"
    ZSTD = "zstd"
    NONE = "none"


class ProviderStatus(StrEnum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"


class WorkerKind(StrEnum):
    """What kind of process runs jobs: a headless worker, or an open app."""

    WORKER = "worker"
    APP = "tui"
    CLI = "cli"  # a foreground command (`backup create`...), running its own job


class NotifyEvent(StrEnum):
    """What a notifier may be told of (`notify add --on`)."""

    FAILURE = "failure"  # a backup failed (one message per failure streak)
    LATE = "late"  # no success within the recovery point
    RECOVERED = "recovered"  # a failure streak or a late spell ended with a success
    RESTORE = "restore"  # a restore ended (succeeded or failed)
    DELETE = "delete"  # a backup was deleted (or its delete failed)
    DRILL = "drill"  # a restore drill ended


class IncidentKind(StrEnum):
    """Something wrong with a service that lasts until its next success."""

    FAILURE = "failure"
    LATE = "late"
    DEGRADED = "degraded"  # its backups succeed, but a copy of them fails (until one is whole)
