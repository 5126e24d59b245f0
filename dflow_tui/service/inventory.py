"""Servers, projects, environments and database services: adding, listing, checking."""

from __future__ import annotations

from dataclasses import dataclass

from dflow_tui.core.enums import AuditResult, BackupStatus
from dflow_tui.core.errors import AlreadyExists, Conflict, InvalidName, NotFound
from dflow_tui.core.naming import (
    ENGINES,
    parse_service_path,
    validate_backup_dir,
    validate_engine,
    validate_host,
    validate_label,
    validate_port,
    validate_user,
)
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import check_max_jobs, resolve_server_id
from dflow_tui.core.views import ServerView, ServiceView
from dflow_tui.jobs.commands import must_run
from dflow_tui.jobs.context import JobContext, server_spec
from dflow_tui.remote import dokku
from dflow_tui.remote.connect import fetch_host_key, trust_host_key
from dflow_tui.service.access import Access
from dflow_tui.settings import (
    DEFAULT_BACKUP_DIR,
    DEFAULT_MAX_JOBS,
    DEFAULT_SSH_PORT,
    MOST_MAX_JOBS,
    PROBE_COMMAND_TIMEOUT,
)
from dflow_tui.store.queries import copies, inventory, providers, rows
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Environment, Project, Server, Service


@dataclass(frozen=True)
class CheckResult:
    server: str
    address: str
    dokku_version: str


@dataclass(frozen=True)
class Discovered:
    path: str
    engine: str
    added: bool


def server_view(server: Server) -> ServerView:
    return ServerView(
        id=rows.saved_id(server.id),
        name=server.name,
        local=server.local,
        host=server.host,
        port=server.port,
        user=server.user,
        key_path=server.key_path,
        backup_dir=server.backup_dir,
        max_jobs=server.max_jobs,
    )


class Inventory:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.db = ctx.db
        self.access = access

    # --- servers ---------------------------------------------------------

    async def add_server(
        self,
        name: str,
        *,
        local: bool = False,
        host: str | None = None,
        port: int = DEFAULT_SSH_PORT,
        user: str | None = None,
        key_path: str | None = None,
        backup_dir: str = DEFAULT_BACKUP_DIR,
        max_jobs: int = DEFAULT_MAX_JOBS,
    ) -> ServerView:
        await self.access.require(Permission.INVENTORY, "server.add", target=name)
        validate_label(name, "server")
        validate_backup_dir(backup_dir)
        check_max_jobs(max_jobs, MOST_MAX_JOBS)
        if local:
            if host:
                raise InvalidName("A --local server has no --host")
        else:
            if not host:
                raise InvalidName(f"Server {name!r} needs --host (or --local for this machine)")
            validate_host(host)
            validate_port(port)
            if user:
                validate_user(user)
            if key_path:
                from dflow_tui.remote.ssh import load_client_key  # asyncssh: only when a key is given

                load_client_key(key_path)  # a missing, unreadable or unusable file is refused now
        server = Server(
            name=name,
            local=local,
            host=host,
            port=port,
            user=user,
            key_path=key_path,
            backup_dir=backup_dir,
            max_jobs=max_jobs,
            created_at=self.ctx.clock.now(),
        )
        view = server_view(await rows.insert(self.db, server, f"Server {name!r}"))
        await self.access.audit("server.add", AuditResult.SUCCEEDED, target=name, detail=view.address)
        return view

    async def set_max_jobs(self, name: str, max_jobs: int) -> ServerView:
        """How many queued jobs workers may run at once on the server, all workers together."""
        await self.access.require(Permission.INVENTORY, "server.edit", target=name)
        check_max_jobs(max_jobs, MOST_MAX_JOBS)
        async with self.db.session() as session:
            server = await inventory.server_by_name(session, name)
            was = server.max_jobs
            await rows.save(session, server, max_jobs=max_jobs)
        await self.access.audit(
            "server.edit", AuditResult.SUCCEEDED, target=name, detail=f"max jobs {was} → {max_jobs}"
        )
        return server_view(server)

    async def list_servers(self) -> list[ServerView]:
        await self.access.require(Permission.READ, "server.list")
        return [server_view(server) for server in await inventory.list_servers(self.db)]

    async def get_server(self, name: str) -> Server:
        async with self.db.reading() as session:
            return await inventory.server_by_name(session, name)

    async def check_server(self, name: str) -> CheckResult:
        """Connects, verifying the host key, and asks Dokku for its version."""
        await self.access.require(Permission.READ, "server.check", target=name)
        server = await self.get_server(name)
        async with self.ctx.connect(server) as transport:
            result = await must_run(
                transport, dokku.version_command(), "Running `dokku version`", timeout=PROBE_COMMAND_TIMEOUT
            )
        version = result.stdout.decode(errors="replace").strip() or "unknown"
        return CheckResult(server.name, server_view(server).address, version)

    async def remove_server(self, name: str) -> None:
        """Forgets a server no project or environment uses and on which no backup lives."""
        await self.access.require(Permission.INVENTORY, "server.remove", target=name)
        async with self.db.session() as session:
            server = await inventory.server_by_name(session, name)
            server_id = rows.saved_id(server.id)
            if places := await inventory.places_on_server(session, server_id):
                raise Conflict(
                    f"Server {name!r} is the server of {', '.join(places)}; "
                    "point them at another server first"
                )
            if (kept := await inventory.kept_on_server(session, server_id)) is not None:
                raise Conflict(
                    f"Server {name!r} still holds backup {kept.id} ({kept.status}); "
                    "delete its backups first, or they could no longer be restored"
                )
            await inventory.forget_server(session, server)
        await self.access.audit("server.remove", AuditResult.SUCCEEDED, target=name)

    async def host_key_fingerprint(self, name: str) -> str:
        """The SHA256 fingerprint of the key the server presents now."""
        await self.access.require(Permission.READ, "server.check", target=name)
        server = await self.get_server(name)
        if server.local:
            raise InvalidName(f"Server {name!r} is local: it has no host key")
        fingerprint, _line = await fetch_host_key(
            server_spec(server), connect_timeout=self.ctx.settings.connect_timeout
        )
        return fingerprint

    async def trust_server(self, name: str, expected_fingerprint: str | None = None) -> str:
        """Adds the server's current host key to known_hosts; returns its fingerprint.

        With `expected_fingerprint`, a server presenting any other key is refused."""
        await self.access.require(Permission.INVENTORY, "server.trust", target=name)
        server = await self.get_server(name)
        if server.local:
            raise InvalidName(f"Server {name!r} is local: there is no host key to trust")
        fingerprint = await trust_host_key(
            server_spec(server),
            self.ctx.settings.known_hosts,
            expected_fingerprint=expected_fingerprint,
            connect_timeout=self.ctx.settings.connect_timeout,
        )
        await self.access.audit("server.trust", AuditResult.SUCCEEDED, target=name, detail=fingerprint)
        return fingerprint

    async def discover(self, server_name: str, project: str, environment: str) -> list[Discovered]:
        """Imports the databases `dokku <engine>:list` reports into PROJECT/ENV."""
        await self.access.require(Permission.INVENTORY, "server.discover", target=server_name)
        server = await self.get_server(server_name)
        found: list[tuple[str, str]] = []
        async with self.ctx.connect(server) as transport:
            # No dokku (or a broken one) must not read as "no databases": that is an error.
            await must_run(
                transport, dokku.version_command(), "Running `dokku version`", timeout=PROBE_COMMAND_TIMEOUT
            )
            for engine in ENGINES:
                result = await transport.run(dokku.list_command(engine), timeout=PROBE_COMMAND_TIMEOUT)
                if not result.ok:
                    continue  # that datastore plugin is not installed
                for name in dokku.parse_service_list(result.stdout.decode(errors="replace")):
                    found.append((engine, name))
        await self.ensure_project(project, server=server_name)
        await self.ensure_environment(project, environment)
        discovered = []
        for engine, name in found:
            path = f"{project}/{environment}/{name}"
            try:
                await self.add_service(path, engine)
                discovered.append(Discovered(path, engine, added=True))
            except AlreadyExists:
                discovered.append(Discovered(path, engine, added=False))
        return discovered

    # --- projects and environments ---------------------------------------

    async def _server_id(self, session: StateSession, server: str | None) -> int | None:
        return None if server is None else (await inventory.server_by_name(session, server)).id

    async def add_project(self, name: str, *, server: str | None = None, legacy: bool = False) -> Project:
        await self.access.require(Permission.INVENTORY, "project.add", target=name)
        validate_label(name, "project")
        async with self.db.session() as session:
            server_id = await self._server_id(session, server)
        project = Project(name=name, server_id=server_id, legacy=legacy, created_at=self.ctx.clock.now())
        project = await rows.insert(self.db, project, f"Project {name!r}")
        await self.access.audit("project.add", AuditResult.SUCCEEDED, target=name)
        return project

    async def ensure_project(self, name: str, *, server: str | None = None) -> Project:
        try:
            async with self.db.session() as session:
                return await inventory.project_by_name(session, name)
        except NotFound:
            return await self.add_project(name, server=server)

    async def add_environment(self, project: str, name: str, *, server: str | None = None) -> Environment:
        await self.access.require(Permission.INVENTORY, "environment.add", target=f"{project}/{name}")
        validate_label(name, "environment")
        async with self.db.session() as session:
            project_row = await inventory.project_by_name(session, project)
            server_id = await self._server_id(session, server)
        environment = Environment(
            project_id=rows.saved_id(project_row.id),
            name=name,
            server_id=server_id,
            created_at=self.ctx.clock.now(),
        )
        environment = await rows.insert(self.db, environment, f"Environment {project}/{name}")
        await self.access.audit("environment.add", AuditResult.SUCCEEDED, target=f"{project}/{name}")
        return environment

    async def ensure_environment(self, project: str, name: str) -> Environment:
        try:
            async with self.db.session() as session:
                project_row = await inventory.project_by_name(session, project)
                return await inventory.environment_by_name(session, project_row, name)
        except NotFound:
            return await self.add_environment(project, name)

    # --- services --------------------------------------------------------

    async def add_service(self, path: str, engine: str) -> ServiceView:
        await self.access.require(Permission.INVENTORY, "service.add", service_path=path)
        chosen = validate_engine(engine)
        project_name, env_name, name = parse_service_path(path)
        async with self.db.session() as session:
            project = await inventory.project_by_name(session, project_name)
            environment = await inventory.environment_by_name(session, project, env_name)
        service = Service(
            environment_id=rows.saved_id(environment.id),
            name=name,
            engine=chosen,
            created_at=self.ctx.clock.now(),
        )
        await rows.insert(self.db, service, f"Service {path!r}")
        await self.access.audit("service.add", AuditResult.SUCCEEDED, service_path=path, detail=engine)
        return (await self.list_services(path=path))[0]

    async def list_services(self, path: str | None = None) -> list[ServiceView]:
        await self.access.require(Permission.READ, "service.list")
        async with self.db.reading() as session:
            service_id = None
            if path is not None:
                service_id = (await inventory.service_by_path(session, path)).service.id
            servers = await inventory.server_names(session)
            provider_names = await providers.provider_names(session)
            kept = await copies.all_service_copies(session)
            return [
                ServiceView(
                    id=place.id,
                    project=place.project.name,
                    environment=place.environment.name,
                    name=place.name,
                    engine=place.engine,
                    destination=place.destination,
                    server=_named(servers, resolve_server_id(place.environment, place.project)),
                    legacy=place.legacy,
                    provider=_named(provider_names, place.provider_id),
                    copies=tuple(
                        _named(provider_names, copy.provider_id) or copy.type
                        for copy in kept.get(place.id, [])
                    ),
                )
                for place in await inventory.services_in_place(session, service_id)
            ]

    async def remove_service(self, path: str) -> None:
        """Forgets a service without live backups, with its schedule and its failed or deleted rows."""
        await self.access.require(Permission.INVENTORY, "service.remove", service_path=path)
        async with self.db.session() as session:
            place = await inventory.service_by_path(session, path)
            live = await inventory.live_backup_of_service(session, rows.saved_id(place.service.id))
            if live is not None:
                doing = "is being made" if live.status == BackupStatus.IN_PROGRESS else "holds a dump"
                raise Conflict(
                    f"Service {path} has live backups (backup {live.id} {doing}); "
                    "delete them first (dflow-tui backup list " + path + ")"
                )
            await inventory.forget_service(session, place.service)
        await self.access.audit("service.remove", AuditResult.SUCCEEDED, service_path=path)

    async def get_service(self, path: str) -> ServiceView:
        services = await self.list_services(path=path)
        if not services:
            raise NotFound(f"No service {path!r}")
        return services[0]


def _named(names: dict[int, str], row_id: int | None) -> str | None:
    return None if row_id is None else names.get(row_id)
