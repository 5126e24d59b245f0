"""Where a service's next backups go: internal (the server's disk) or a verified provider."""

from __future__ import annotations

from dflow_tui.core.enums import BackupType
from dflow_tui.core.errors import InvalidName
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import check_provider_usable
from dflow_tui.jobs.context import JobContext
from dflow_tui.service import lookup
from dflow_tui.service.access import Access
from dflow_tui.service.storage import provider_by_name
from dflow_tui.store.tables import Service, StorageProvider

DESTINATIONS = [kind.value for kind in BackupType]


class Destinations:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.db = ctx.db
        self.access = access

    async def set(self, path: str, destination: str, provider: str | None = None) -> None:
        """Affects the next run only: existing backups keep their type."""
        await self.access.require(Permission.DESTINATION, "destination.set", service_path=path)
        if destination not in DESTINATIONS:
            raise InvalidName(f"Unknown destination {destination!r}: use internal or external")
        async with self.db.session() as session:
            rows = await lookup.service_by_path(session, path)
            service = await session.get(Service, rows.service.id)
            if destination == BackupType.INTERNAL:
                if provider:
                    raise InvalidName("An internal destination takes no --provider")
                service.destination, service.provider_id = destination, None
            else:
                if not provider:
                    raise InvalidName("An external destination needs --provider NAME (a verified one)")
                chosen: StorageProvider = await provider_by_name(session, provider)
                check_provider_usable(chosen, path)
                service.destination, service.provider_id = destination, chosen.id
            session.add(service)
            await session.commit()
        await self.access.audit(
            "destination.set",
            "ok",
            service_path=path,
            detail=destination + (f" ({provider})" if provider else ""),
        )
