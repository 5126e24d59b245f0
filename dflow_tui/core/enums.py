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
    SUCCESS = "success"
    FAILED = "failed"


class Trigger(StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"


class OperationKind(StrEnum):
    RESTORE = "restore"
    DELETE = "delete"


class OperationStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


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
