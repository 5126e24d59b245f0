"""Decisions as plain functions: where a service runs and whether an action is allowed."""

from __future__ import annotations

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
        raise NotAllowed(
            f"Backup {backup.id} is {backup.status}; only a successful backup can be restored"
        )
    if active_operation is not None:
        raise Conflict(
            f"Backup {backup.id} already has a {active_operation.kind} {active_operation.status}"
        )


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
            f"{service_path} is set to external storage but has no provider; "
            "save its destination again"
        )
    if provider.status != ProviderStatus.VERIFIED.value:
        raise NotAllowed(
            f"Storage provider {provider.name!r} is not verified ({provider.status_reason}); "
            f"run `dflow-tui storage verify {provider.name}`"
        )
