"""Where a service's next backups go: internal (the server's disk) or a verified provider."""

from __future__ import annotations

from dflow_tui.core.enums import AuditResult, BackupType, Compression
from dflow_tui.core.errors import InvalidName, NotAllowed
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import check_provider_usable, resolve_server_id
from dflow_tui.jobs.context import JobContext
from dflow_tui.service.access import Access
from dflow_tui.settings import PROBE_COMMAND_TIMEOUT
from dflow_tui.store.queries import inventory, providers, rows
from dflow_tui.store.tables import Server

DESTINATIONS = [kind.value for kind in BackupType]


class Destinations:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.db = ctx.db
        self.access = access

    async def set(
        self,
        path: str,
        destination: str,
        provider: str | None = None,
        compression: str = Compression.AUTO,
    ) -> None:
        """Affects the next run only: existing backups keep their type. `compression`: auto
        (engines whose export is not compressed already), zstd, or none; on the server's
        disk, zstd is refused when the server has no `zstd`."""
        await self.access.require(Permission.DESTINATION, "destination.set", service_path=path)
        if destination not in DESTINATIONS:
            raise InvalidName(f"Unknown destination {destination!r}: use internal or external")
        try:
            chosen_compression = Compression(compression)
        except ValueError:
            raise InvalidName(f"Unknown compression {compression!r}: use auto, zstd or none") from None
        if destination == BackupType.INTERNAL and chosen_compression == Compression.ZSTD:
            await self._check_zstd_on_server(path)
        async with self.db.session() as session:
            place = await inventory.service_by_path(session, path)
            if destination == BackupType.INTERNAL:
                if provider:
                    raise InvalidName("An internal destination takes no --provider")
                provider_id = None
            else:
                if not provider:
                    raise InvalidName("An external destination needs --provider NAME (a verified one)")
                chosen = await providers.provider_by_name(session, provider)
                check_provider_usable(chosen, path)
                provider_id = chosen.id
            await rows.save(
                session,
                place.service,
                destination=BackupType(destination),
                provider_id=provider_id,
                compression=chosen_compression,
            )
        await self.access.audit(
            "destination.set",
            AuditResult.SUCCEEDED,
            service_path=path,
            detail=destination
            + (f" ({provider})" if provider else "")
            + f", compression {chosen_compression}",
        )

    async def _check_zstd_on_server(self, path: str) -> None:
        async with self.db.reading() as session:
            place = await inventory.service_by_path(session, path)
            server_id = resolve_server_id(place.environment, place.project)
            server = await rows.get(session, Server, server_id) if server_id is not None else None
        if server is None:
            return  # no server yet: the backup will say so
        async with self.ctx.connect(server) as transport:
            probe = await transport.run("command -v zstd", timeout=PROBE_COMMAND_TIMEOUT)
        if not probe.ok:
            raise NotAllowed(
                f"Server {server.name} has no zstd, so dumps cannot be compressed on its disk: install it "
                "there (apt-get install zstd), or choose --compression none"
            )
