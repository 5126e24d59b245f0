"""Backup schedules: which tiers a service runs, and what is due when."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete
from sqlmodel import select

from dflow_tui.core.permissions import Permission
from dflow_tui.core.tiers import ORDER, RULES, active_schedules_text, sort_tiers
from dflow_tui.core.views import ScheduleView, TierStatus
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.scheduler import PassReport, last_successes, run_pass
from dflow_tui.service import lookup
from dflow_tui.service.access import Access
from dflow_tui.store.tables import ScheduleTier, Service


class Schedules:
    def __init__(self, ctx: JobContext, access: Access, *, on_saved: Callable[[], None]):
        self.ctx = ctx
        self.db = ctx.db
        self.access = access
        self.on_saved = on_saved  # wakes this process's worker loop, to run what the pass queued

    async def set(self, path: str, tiers) -> PassReport:
        """Saves the tiers (none = off), then runs a scheduler pass at once."""
        await self.access.require(Permission.SCHEDULE, "schedule.set", service_path=path)
        chosen = sort_tiers(tiers)
        async with self.db.session() as session:
            rows = await lookup.service_by_path(session, path)
            await session.exec(delete(ScheduleTier).where(ScheduleTier.service_id == rows.service.id))
            for tier in chosen:
                session.add(ScheduleTier(service_id=rows.service.id, tier=tier.value))
            service = await session.get(Service, rows.service.id)
            service.schedule_failures, service.schedule_error, service.retry_after = 0, None, None
            session.add(service)
            await session.commit()
        await self.access.audit(
            "schedule.set", "ok", service_path=path, detail=", ".join(t.value for t in chosen) or "off"
        )
        report = await run_pass(self.ctx)
        self.on_saved()
        return report

    async def show(self, path: str) -> ScheduleView:
        await self.access.require(Permission.READ, "schedule.show", service_path=path)
        async with self.db.reading() as session:
            rows = await lookup.service_by_path(session, path)
            service = await session.get(Service, rows.service.id)
            enabled = set(
                (
                    await session.exec(select(ScheduleTier.tier).where(ScheduleTier.service_id == service.id))
                ).all()
            )
            last = await last_successes(session, service.id)
        statuses = []
        for tier in ORDER:
            rule = RULES[tier]
            on = tier.value in enabled
            last_success = last.get(tier.value)
            next_due = None
            if on:
                next_due = (last_success + rule.interval) if last_success else self.ctx.clock.now()
            statuses.append(
                TierStatus(tier.value, rule.label, rule.retention_text, on, last_success, next_due)
            )
        return ScheduleView(
            service_path=rows.path,
            tiers=statuses,
            active_text=active_schedules_text(enabled),
            failures=service.schedule_failures,
            retry_after=service.retry_after,
            error=service.schedule_error,
        )
