"""Where a service's next backups go: internal (the server's disk) or a verified provider."""

from __future__ import annotations

from collections.abc import Sequence

from dflow_tui.core.copies import Place, check_copies
from dflow_tui.core.enums import AuditResult, BackupType, Compression
from dflow_tui.core.errors import InvalidName, NotAllowed
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import check_provider_usable, resolve_server_id
from dflow_tui.jobs.context import JobContext
from dflow_tui.service.access import Access
from dflow_tui.settings import PROBE_COMMAND_TIMEOUT
from dflow_tui.store.queries import copies, inventory, providers, rows
from dflow_tui.store.tables import Server, ServiceCopy

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
        compression: str | None = Compression.AUTO,
        copy_to: Sequence[str] = (),
    ) -> None:
        """Affects the next run only: existing backups keep their type. `compression`: auto
        (engines whose export is not compressed already), zstd, or none (None: keep the
        saved one); on the server's disk, zstd is refused when the server has no `zstd`. `copy_to`: more places each
        backup is also stored in, from the same export (`internal` or verified providers);
        the whole destination is replaced, so none given means no copies."""
        await self.access.require(Permission.DESTINATION, "destination.set", service_path=path)
        if destination not in DESTINATIONS:
            raise InvalidName(f"Unknown destination {destination!r}: use internal or external")
        if compression is None:
            async with self.db.reading() as session:
                compression = (await inventory.service_by_path(session, path)).service.compression
        try:
            chosen_compression = Compression(compression)
        except ValueError:
            raise InvalidName(f"Unknown compression {compression!r}: use auto, zstd or none") from None
        wanted = [Place.of(word) for word in copy_to]
        primary = Place(BackupType(destination), provider if destination == BackupType.EXTERNAL else None)
        check_copies(primary, wanted)
        on_disk = destination == BackupType.INTERNAL or any(p.type == BackupType.INTERNAL for p in wanted)
        if on_disk and chosen_compression == Compression.ZSTD:
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
            service_id = rows.saved_id(place.service.id)
            made: list[ServiceCopy] = []
            for position, copy in enumerate(wanted, start=1):
                copy_provider = None
                if copy.provider is not None:
                    found = await providers.provider_by_name(session, copy.provider)
                    check_provider_usable(found, path)
                    copy_provider = found.id
                made.append(
                    ServiceCopy(
                        service_id=service_id, position=position, type=copy.type, provider_id=copy_provider
                    )
                )
            await copies.replace_service_copies(session, service_id, made)
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
            + "".join(f", copy to {copy.name}" for copy in wanted)
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
