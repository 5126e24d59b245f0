"""Where a service's next backups go: internal (the server's disk) or a verified provider."""

from __future__ import annotations

from dflow_tui.core.enums import BackupType
from dflow_tui.core.errors import InvalidName
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import check_provider_usable
from dflow_tui.jobs.context import JobContext
from dflow_tui.service.access import Access
from dflow_tui.store.queries import inventory, providers, rows

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
                session, place.service, destination=BackupType(destination), provider_id=provider_id
            )
        await self.access.audit(
            "destination.set",
            "ok",
            service_path=path,
            detail=destination + (f" ({provider})" if provider else ""),
        )
