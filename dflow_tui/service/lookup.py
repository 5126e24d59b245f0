"""Finding rows by the names users type: server names and PROJECT/ENV/NAME paths."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from dflow_tui.core.errors import NotFound
from dflow_tui.core.naming import parse_service_path
from dflow_tui.store.tables import Environment, Project, Server, Service


@dataclass
class ServiceRows:
    service: Service
    environment: Environment
    project: Project

    @property
    def path(self) -> str:
        return f"{self.project.name}/{self.environment.name}/{self.service.name}"


async def server_by_name(session: AsyncSession, name: str) -> Server:
    server = (await session.exec(select(Server).where(Server.name == name))).first()
    if server is None:
        raise NotFound(f"No server named {name!r} (see `dflow-tui server list`)")
    return server


async def project_by_name(session: AsyncSession, name: str) -> Project:
    project = (await session.exec(select(Project).where(Project.name == name))).first()
    if project is None:
        raise NotFound(f"No project named {name!r} (add it with `dflow-tui project add {name}`)")
    return project


async def environment_by_name(session: AsyncSession, project: Project, name: str) -> Environment:
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


async def service_by_path(session: AsyncSession, path: str) -> ServiceRows:
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


async def service_rows(session: AsyncSession, service_id: int) -> ServiceRows:
    service = await session.get(Service, service_id)
    if service is None:
        raise NotFound(f"No service with id {service_id}")
    environment = await session.get(Environment, service.environment_id)
    project = await session.get(Project, environment.project_id)
    return ServiceRows(service, environment, project)
