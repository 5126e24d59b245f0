"""The whole fleet at a glance: every service with its schedule and how its backups stand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dflow_tui.core.enums import RecoveryState
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import next_due, recovery
from dflow_tui.core.tiers import sort_tiers
from dflow_tui.core.views import FleetRow
from dflow_tui.jobs.context import JobContext
from dflow_tui.service.access import Access
from dflow_tui.service.inventory import Inventory
from dflow_tui.store.queries import fleet, inventory, notices, schedules

UNDELIVERED_SHOWN_FOR = timedelta(days=1)
"""Notifications not delivered are shown this long (retried meanwhile; `notify list` has them all)."""


@dataclass(frozen=True)
class FleetHealth:
    """What the app's header and service tree say of the whole fleet."""

    states: dict[str, RecoveryState]  # service path → state (services without a schedule: off)
    undelivered: int  # notifications of the last day that could not be delivered

    def count(self, state: RecoveryState) -> int:
        return sum(1 for found in self.states.values() if found is state)


class Fleet:
    def __init__(self, ctx: JobContext, access: Access, inventory: Inventory) -> None:
        self.ctx = ctx
        self.access = access
        self.inventory = inventory

    async def health(self) -> FleetHealth:
        """Every service's recovery state, in a few grouped reads (cheaper than `rows`: no
        per-tier figures), and how many notifications could not be delivered."""
        await self.access.require(Permission.READ, "fleet.list")
        tiers = await schedules.tiers_by_service(self.ctx.db)
        facts = await fleet.scheduled_facts(self.ctx.db)
        async with self.ctx.db.reading() as session:
            paths = await inventory.service_paths(session)  # ids and paths only: no views to build
            failed = await fleet.latest_finished_failed(session)
        now = self.ctx.clock.now()
        by_id = {
            service_id: recovery(tiers.get(service_id, []), grace, last_success, service_id in failed, now)[0]
            for service_id, grace, _since, last_success in facts
        }
        undelivered = await notices.undelivered(self.ctx.db, now - UNDELIVERED_SHOWN_FOR)
        return FleetHealth(
            {path: by_id.get(service_id, RecoveryState.OFF) for service_id, path in paths.items()},
            undelivered,
        )

    async def rows(self, path: str | None = None) -> list[FleetRow]:
        """One row per service (or just `path`'s), in path order: a few queries whatever
        the fleet's size."""
        await self.access.require(Permission.READ, "fleet.list")
        services = await self.inventory.list_services(path)
        tiers = await schedules.tiers_by_service(self.ctx.db)
        async with self.ctx.db.reading() as session:
            successes = await fleet.last_successes(session)
            latest = await fleet.latest_backups(session)
            failed = await fleet.latest_finished_failed(session)
            graces = await fleet.graces(session)
        now = self.ctx.clock.now()
        result = []
        for service in services:
            enabled = sort_tiers(tiers.get(service.id, []))
            by_tier = successes.get(service.id, {})
            last_by_tier = {tier: by_tier[tier] for tier in enabled if tier in by_tier}
            newest = latest.get(service.id)
            last_success = max(by_tier.values(), default=None)
            state, rpo = recovery(enabled, graces.get(service.id), last_success, service.id in failed, now)
            result.append(
                FleetRow(
                    service=service,
                    tiers=tuple(tier.value for tier in enabled),
                    last_success=last_success,
                    next_due=next_due(enabled, last_by_tier, now),
                    last_result=newest[0].value if newest is not None else None,
                    last_size=newest[1] if newest is not None else None,
                    state=state.value,
                    rpo=rpo,
                )
            )
        result.sort(key=lambda row: row.path)
        return result
