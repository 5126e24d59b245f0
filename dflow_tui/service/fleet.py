"""The whole fleet at a glance: every service with its schedule and how its backups stand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from dflow_tui.core.enums import RecoveryState
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import recovery_point, recovery_state, soonest_due
from dflow_tui.core.tiers import Tier
from dflow_tui.core.views import FleetRow, ServiceView
from dflow_tui.jobs.context import JobContext
from dflow_tui.service.access import Access
from dflow_tui.service.inventory import Inventory
from dflow_tui.store.queries import drills, fleet, notices
from dflow_tui.store.queries.drills import NOT_DRILLED
from dflow_tui.store.queries.fleet import Standing

UNDELIVERED_SHOWN_FOR = timedelta(days=1)
"""Notifications not delivered are shown this long (retried meanwhile; `notify list` has them all)."""


@dataclass(frozen=True)
class FleetHealth:
    """What the app's header, service tree and Fleet view say of the whole fleet."""

    rows: list[FleetRow]  # every service as the Fleet view lists it, in path order
    undelivered: int  # notifications of the last day that could not be delivered

    @property
    def states(self) -> dict[str, str]:
        """Service path → its recovery state's word (services without a schedule: off)."""
        return {row.path: row.state for row in self.rows}

    def count(self, state: RecoveryState) -> int:
        return sum(1 for row in self.rows if row.state == state)


class Fleet:
    def __init__(self, ctx: JobContext, access: Access, inventory: Inventory) -> None:
        self.ctx = ctx
        self.access = access
        self.inventory = inventory

    async def health(self, services: Sequence[ServiceView] | None = None) -> FleetHealth:
        """Every service's row (`rows`, with its recovery state), and how many notifications
        could not be delivered. The app reads it every 30 s, and the Fleet view opens on its
        rows at once. `services`: as for `rows`."""
        rows = await self.rows(services=services)
        undelivered = await notices.undelivered(self.ctx.db, self.ctx.clock.now() - UNDELIVERED_SHOWN_FOR)
        return FleetHealth(rows, undelivered)

    async def rows(
        self, path: str | None = None, *, services: Sequence[ServiceView] | None = None
    ) -> list[FleetRow]:
        """One row per service (or just `path`'s), in path order: two reads whatever the
        fleet's size. `services`: the services as the caller read them a moment ago (the
        app's main screen holds them), so that they are not read again; a service added
        since is left out until the next read."""
        await self.access.require(Permission.READ, "fleet.list")
        points = _RecoveryPoints()
        made: dict[int, FleetRow] = {}
        if services is None or path is not None:
            services = await self.inventory.list_services(path)
        async with self.ctx.db.reading() as session:
            only = services[0].id if path is not None else None
            found = await fleet.standings(session, only)
            drilled = await drills.drill_standing(session, only)
            by_id = {service.id: service for service in services}
            now = self.ctx.clock.now()
            for standing in found:
                service = by_id.get(standing.service_id)
                if service is None:  # added since the services were read: listed next time
                    continue
                rpo = points.of(standing)
                proof = drilled.get(service.id, NOT_DRILLED)
                failed = standing.latest_failed or proof.last_failed  # a failed drill is a failure too
                made[service.id] = FleetRow(
                    service=service,
                    tiers=points.names(standing),
                    last_success=standing.last_success,
                    next_due=soonest_due(standing.tiers, standing.last_by_tier, now),
                    last_result=standing.latest_status,
                    last_size=standing.latest_size,
                    state=recovery_state(rpo, standing.last_success, failed, now).value,
                    rpo=rpo,
                    proven_at=proof.proven_at,
                    proven_backup_id=proof.proven_backup_id,
                    drill_failed=proof.last_failed,
                )
        # A service removed since it was read: no figures (it is gone at the next read).
        result = [
            made.get(service.id) or FleetRow(service, (), None, None, None, None) for service in services
        ]
        result.sort(key=lambda row: row.path)
        return result


class _RecoveryPoints:
    """Recovery points by tiers and grace: a fleet has few of each, so each is worked out once."""

    def __init__(self) -> None:
        self._points: dict[tuple[tuple[Tier, ...], int | None], timedelta | None] = {}
        self._names: dict[tuple[Tier, ...], tuple[str, ...]] = {}

    def of(self, facts: Standing) -> timedelta | None:
        key = (facts.tiers, facts.grace_seconds)
        if key not in self._points:
            grace = facts.grace_seconds
            self._points[key] = recovery_point(
                facts.tiers, timedelta(seconds=grace) if grace is not None else None
            )
        return self._points[key]

    def names(self, standing: Standing) -> tuple[str, ...]:
        if standing.tiers not in self._names:
            self._names[standing.tiers] = tuple(tier.value for tier in standing.tiers)
        return self._names[standing.tiers]
