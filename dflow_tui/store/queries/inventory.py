"""Servers, projects, environments and services, found by the names users type: a server's
name, a PROJECT/ENV/NAME path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from sqlmodel import col, delete, select, update

from dflow_tui.core.enums import BackupStatus, BackupType, Engine
from dflow_tui.core.errors import NotFound
from dflow_tui.core.naming import parse_service_path
from dflow_tui.core.policy import resolve_server_id
from dflow_tui.store.db import Database
from dflow_tui.store.queries import rows
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import (
    Backup,
    BackupCopy,
    Environment,
    Incident,
    Operation,
    Project,
    ScheduleTier,
    Server,
    Service,
    ServiceCopy,
)


@dataclass
class ServiceRows:
    """A service with the environment and the project it belongs to."""

    service: Service
    environment: Environment
    project: Project

    @property
    def path(self) -> str:
        return f"{self.project.name}/{self.environment.name}/{self.service.name}"


# --- servers -----------------------------------------------------------------------


async def server_by_name(session: StateSession, name: str) -> Server:
    server = (await session.exec(select(Server).where(Server.name == name))).first()
    if server is None:
        raise NotFound(f"No server named {name!r} (see `dflow-tui server list`)")
    return server


async def list_servers(db: Database) -> list[Server]:
    """Every server, by name."""
    async with db.reading() as session:
        return list((await session.exec(select(Server).order_by(col(Server.name)))).all())


async def all_servers(session: StateSession) -> list[Server]:
    return list((await session.exec(select(Server).order_by(col(Server.id)))).all())


async def server_names(session: StateSession) -> dict[int, str]:
    """Each server's name, by its id."""
    return {server.id: server.name for server in await all_servers(session) if server.id is not None}


# --- projects and environments -----------------------------------------------------


async def project_by_name(session: StateSession, name: str) -> Project:
    project = (await session.exec(select(Project).where(Project.name == name))).first()
    if project is None:
        raise NotFound(f"No project named {name!r} (add it with `dflow-tui project add {name}`)")
    return project


async def environment_by_name(session: StateSession, project: Project, name: str) -> Environment:
    environment = (
        await session.exec(
            select(Environment).where(Environment.project_id == project.id, Environment.name == name)
        )
    ).first()
    if environment is None:
        raise NotFound(
            f"No environment {name!r} in project {project.name!r} "
            f"(add it with `dflow-tui env add {project.name} {name}`)"
        )
    return environment


# --- services ----------------------------------------------------------------------


async def service_by_path(session: StateSession, path: str) -> ServiceRows:
    project_name, env_name, service_name = parse_service_path(path)
    project = await project_by_name(session, project_name)
    environment = await environment_by_name(session, project, env_name)
    service = (
        await session.exec(
            select(Service).where(Service.environment_id == environment.id, Service.name == service_name)
        )
    ).first()
    if service is None:
        raise NotFound(f"No service {path!r} (see `dflow-tui service list`)")
    return ServiceRows(service, environment, project)


async def service_rows(session: StateSession, service_id: int) -> ServiceRows:
    service = await session.get(Service, service_id)
    if service is None:
        raise NotFound(f"No service with id {service_id}")
    environment = await session.get(Environment, service.environment_id)
    if environment is None:
        raise NotFound(f"No environment with id {service.environment_id}")
    project = await session.get(Project, environment.project_id)
    if project is None:
        raise NotFound(f"No project with id {environment.project_id}")
    return ServiceRows(service, environment, project)


async def lock_services(session: StateSession, service_ids: list[int]) -> None:
    """lock_service for many services at once."""
    for chunk in rows.chunks(sorted(service_ids)):  # one order for everyone: no deadlock
        await session.exec(select(Service.id).where(col(Service.id).in_(chunk)).with_for_update())


async def service_rows_of(session: StateSession, service_ids: list[int]) -> dict[int, ServiceRows]:
    """service_rows for many services at once (those that exist)."""
    found: dict[int, ServiceRows] = {}
    for chunk in rows.chunks(service_ids):
        query = (
            select(Service, Environment, Project)
            .join(Environment, col(Service.environment_id) == col(Environment.id))
            .join(Project, col(Environment.project_id) == col(Project.id))
            .where(col(Service.id).in_(chunk))
        )
        for service, environment, project in (await session.exec(query)).all():
            found[rows.saved_id(service.id)] = ServiceRows(service, environment, project)
    return found


async def servers_by_id(session: StateSession) -> dict[int, Server]:
    return {server.id: server for server in await all_servers(session) if server.id is not None}


async def lock_service(session: StateSession, service_id: int) -> None:
    """Holds the service's row until the transaction ends, so two processes deciding what may
    write to one service (a backup, a restore) take turns. On PostgreSQL a row lock; SQLite's
    BEGIN IMMEDIATE serializes every writing transaction already."""
    await session.exec(select(Service.id).where(Service.id == service_id).with_for_update())


async def service_path(db: Database, service_id: int) -> str:
    """`PROJECT/ENV/NAME` of a service, for messages."""
    async with db.reading() as session:
        row = (
            await session.exec(
                select(Project.name, Environment.name, Service.name)
                .join(Environment, col(Service.environment_id) == col(Environment.id))
                .join(Project, col(Environment.project_id) == col(Project.id))
                .where(Service.id == service_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"No service with id {service_id}")
    return "/".join(row)


async def service_paths(session: StateSession) -> dict[int, str]:
    """`PROJECT/ENV/NAME` of every service, by its id."""
    query = (
        select(col(Service.id), Project.name, Environment.name, Service.name)
        .join(Environment, col(Service.environment_id) == col(Environment.id))
        .join(Project, col(Environment.project_id) == col(Project.id))
    )
    return {sid: f"{p}/{e}/{n}" for sid, p, e, n in await session.plain(query)}


class Place(NamedTuple):
    """A project or an environment: its name and the server it names, if any."""

    name: str
    server_id: int | None


class ServicePlace(NamedTuple):
    """A service's columns and where it is, read as plain values: a fleet of 10,000
    services lists in tens of milliseconds (ORM objects would take half a second; named
    tuples are made in a third of a frozen dataclass's time)."""

    id: int
    name: str
    engine: Engine
    destination: BackupType
    provider_id: int | None
    environment: Place
    project: Place
    legacy: bool


async def services_in_place(session: StateSession, service_id: int | None = None) -> Iterator[ServicePlace]:
    """Every service (or the one with `service_id`) with its environment and project,
    by project, environment and name; each made as it is taken (take them inside the
    session), so a fleet's worth of them is never held at once."""
    query = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
            col(Service.id),
            col(Service.name),
            col(Service.engine),
            col(Service.destination),
            col(Service.provider_id),
            col(Environment.name),
            col(Environment.server_id),
            col(Project.name),
            col(Project.server_id),
            col(Project.legacy),
        )
        .join(Environment, col(Service.environment_id) == col(Environment.id))
        .join(Project, col(Environment.project_id) == col(Project.id))
        .order_by(col(Project.name), col(Environment.name), col(Service.name))
    )
    if service_id is not None:
        query = query.where(Service.id == service_id)
    return (
        ServicePlace(
            id_,
            name,
            engine,
            destination,
            provider_id,
            Place(env, env_server),
            Place(project, project_server),
            legacy,
        )
        for id_, name, engine, destination, provider_id, env, env_server, project, project_server, legacy in (
            await session.plain(query)
        )
    )


async def service_with_provider(session: StateSession, provider_id: int) -> Service | None:
    """A service whose destination is this storage provider, if any."""
    return (await session.exec(select(Service).where(Service.provider_id == provider_id))).first()


# --- removal ---------------------------------------------------------------------


async def places_on_server(session: StateSession, server_id: int) -> list[str]:
    """The projects and environments (`project`, `project/env`) whose server this is."""
    projects = await session.exec(select(Project).where(Project.server_id == server_id))
    environments = await session.exec(
        select(Environment, Project)
        .join(Project, col(Project.id) == Environment.project_id)
        .where(Environment.server_id == server_id)
    )
    return sorted(
        [project.name for project in projects.all()]
        + [f"{project.name}/{environment.name}" for environment, project in environments.all()]
    )


async def server_of_service(session: StateSession, service_id: int) -> Server:
    """The server a service runs on (its environment's, else its project's)."""
    place = await service_rows(session, service_id)
    server_id = resolve_server_id(place.environment, place.project)
    if server_id is None:
        raise NotFound(f"{place.path} has no server")
    return await rows.get(session, Server, server_id)


async def kept_on_server(session: StateSession, server_id: int) -> Backup | None:
    """A backup whose dump lives on this server's disk, or a job still running there."""
    query = select(Backup).where(
        Backup.server_id == server_id,
        col(Backup.deleted_at).is_(None),
        (col(Backup.type) == BackupType.INTERNAL) | (col(Backup.status) == BackupStatus.IN_PROGRESS),
        col(Backup.status) != BackupStatus.FAILED,
    )
    return (await session.exec(query.limit(1))).first()


async def forget_server(session: StateSession, server: Server) -> None:
    """Deletes the row; the history rows that name it (failed, deleted or stored elsewhere) keep
    their records without it."""
    await session.exec(update(Backup).where(col(Backup.server_id) == server.id).values(server_id=None))
    await session.delete(server)
    await session.commit()


async def live_backup_of_service(session: StateSession, service_id: int) -> Backup | None:
    """A backup of the service that holds a dump or is being made."""
    query = select(Backup).where(
        Backup.service_id == service_id,
        col(Backup.deleted_at).is_(None),
        col(Backup.status) != BackupStatus.FAILED,
    )
    return (await session.exec(query.order_by(col(Backup.id)).limit(1))).first()


async def forget_service(session: StateSession, service: Service) -> None:
    """Deletes the service with its schedule and its history rows (failed or deleted backups and
    the jobs that ran on them); the audit log keeps what happened to it, by path."""
    backup_ids = select(Backup.id).where(Backup.service_id == service.id)
    await session.exec(delete(Operation).where(col(Operation.backup_id).in_(backup_ids)))
    await session.exec(delete(BackupCopy).where(col(BackupCopy.backup_id).in_(backup_ids)))
    await session.exec(delete(ServiceCopy).where(col(ServiceCopy.service_id) == service.id))
    await session.exec(delete(Backup).where(col(Backup.service_id) == service.id))
    await session.exec(delete(ScheduleTier).where(col(ScheduleTier.service_id) == service.id))
    await session.exec(delete(Incident).where(col(Incident.service_id) == service.id))
    await session.delete(service)
    await session.commit()
