"""Backup schedules: which tiers a service runs, and what is due when."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

from dflow_tui.core.enums import AuditResult
from dflow_tui.core.permissions import Permission
from dflow_tui.core.policy import check_ping_url, due_at, parse_drill_every, recovery
from dflow_tui.core.tiers import ORDER, RULES, active_schedules_text, sort_tiers
from dflow_tui.core.views import ScheduleView, TierStatus
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.scheduler import PassReport, run_pass
from dflow_tui.service.access import Access
from dflow_tui.store.queries import backups, drills, inventory, rows, schedules, workers
from dflow_tui.store.queries.drills import NOT_DRILLED


class Schedules:
    def __init__(self, ctx: JobContext, access: Access, *, on_saved: Callable[[], None]):
        self.ctx = ctx
        self.db = ctx.db
        self.access = access
        self.on_saved = on_saved  # wakes this process's worker loop, to run what the pass queued

    async def set(self, path: str, tiers: Iterable[str], grace: timedelta | None = None) -> PassReport:
        """Saves the tiers (none = off) and, when given, how long past its shortest tier a
        success may be missing before the service is late; then runs a scheduler pass."""
        await self.access.require(Permission.SCHEDULE, "schedule.set", service_path=path)
        chosen = sort_tiers(tiers)
        async with self.db.session() as session:
            place = await inventory.service_by_path(session, path)
            if grace is not None:
                place.service.rpo_grace_seconds = int(grace.total_seconds())
            await schedules.replace_tiers(session, place.service, chosen, self.ctx.clock.now())
        await self.access.audit(
            "schedule.set",
            AuditResult.SUCCEEDED,
            service_path=path,
            detail=", ".join(t.value for t in chosen) or "off",
        )
        report = await run_pass(self.ctx)
        self.on_saved()
        return report

    async def set_ping(self, path: str, url: str | None) -> None:
        """Where the service's backups report start, success and failure (None: nowhere)."""
        await self.access.require(Permission.SCHEDULE, "ping.set", service_path=path)
        checked = check_ping_url(url) if url is not None else None
        async with self.db.session() as session:
            place = await inventory.service_by_path(session, path)
            await rows.save(session, place.service, ping_url=checked)
        # The URL's path is often its secret token: the audit says whether, not where.
        await self.access.audit(
            "ping.set", AuditResult.SUCCEEDED, service_path=path, detail="on" if checked else "off"
        )

    async def set_drill(self, path: str, every: str) -> PassReport:
        """How often the scheduler drills the service's newest successful backup: daily,
        weekly, monthly, or off; then runs a scheduler pass."""
        await self.access.require(Permission.SCHEDULE, "drill.schedule", service_path=path)
        chosen = parse_drill_every(every)
        async with self.db.session() as session:
            place = await inventory.service_by_path(session, path)
            await rows.save(session, place.service, drill_every=chosen)
        await self.access.audit(
            "drill.schedule",
            AuditResult.SUCCEEDED,
            service_path=path,
            detail=chosen.value if chosen else "off",
        )
        report = await run_pass(self.ctx)
        self.on_saved()
        return report

    async def unattended(self, *, besides_this_process: bool = False) -> str | None:
        """Why scheduled backups may be waiting: schedules exist, but no worker or open app has
        run for two intervals of the shortest enabled tier (None: someone runs them).

        `besides_this_process`: asked by an open app before it closes; its own passes do
        not count, since they stop with it."""
        enabled = {tier for tiers in (await schedules.tiers_by_service(self.db)).values() for tier in tiers}
        if not enabled:
            return None
        shortest = min(RULES[tier].interval for tier in enabled)
        besides = self.ctx.worker_id if besides_this_process else None
        seen = await workers.last_seen(self.db, besides=besides)
        if seen is not None and self.ctx.clock.now() - seen <= 2 * shortest:
            return None
        since = "has ever run" if seen is None else f"has run since {seen:%Y-%m-%d %H:%M} UTC"
        if besides_this_process:
            return (
                f"Schedules are set and no worker but this app {since}: once it is closed, scheduled "
                "backups wait until `dflow-tui worker` runs (as a service, or `worker --once` from cron)"
            )
        return (
            f"Schedules are set but no worker or open app {since}: scheduled backups wait until "
            "`dflow-tui worker` runs (as a service, or `worker --once` from cron) or the app is open"
        )

    async def show(self, path: str) -> ScheduleView:
        await self.access.require(Permission.READ, "schedule.show", service_path=path)
        async with self.db.reading() as session:
            place = await inventory.service_by_path(session, path)
            service = place.service
            service_id = rows.saved_id(service.id)
            enabled = set(await schedules.tiers_of(session, service_id))
            last = await backups.last_successes(session, service_id)
            newest_success, latest_failed = await backups.recovery_facts(session, service_id)
            drilled = (await drills.drill_standing(session, service_id)).get(service_id, NOT_DRILLED)
        now = self.ctx.clock.now()
        # A failed restore drill is a failure like a failed backup, until a drill passes.
        failed = latest_failed or drilled.last_failed
        state, rpo = recovery(enabled, service.rpo_grace_seconds, newest_success, failed, now)
        statuses = []
        for tier in ORDER:
            rule = RULES[tier]
            on = tier in enabled
            last_success = last.get(tier)
            next_due = due_at(tier, last_success, now) if on else None
            statuses.append(
                TierStatus(tier.value, rule.label, rule.retention_text, on, last_success, next_due)
            )
        return ScheduleView(
            service_path=place.path,
            tiers=statuses,
            active_text=active_schedules_text(enabled),
            failures=service.schedule_failures,
            retry_after=service.retry_after,
            error=service.schedule_error,
            state=state.value,
            rpo=rpo,
            drill_every=service.drill_every.value if service.drill_every else None,
            proven_at=drilled.proven_at,
            proven_backup_id=drilled.proven_backup_id,
            drill_error=drilled.last_error if drilled.last_failed else None,
        )
