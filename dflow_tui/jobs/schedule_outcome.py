"""After a scheduled run: success clears the service's backoff, a failure extends it."""

from __future__ import annotations

from sqlmodel import select

from dflow_tui.core.policy import retry_delay
from dflow_tui.jobs.context import JobContext
from dflow_tui.store.tables import ScheduleTier, Service


async def record_schedule_outcome(ctx: JobContext, service_id: int, error: str | None) -> None:
    """Success clears the backoff; a failure pushes the next attempt out (10 min, 20, 40… capped)."""
    async with ctx.db.session() as session:
        service = await session.get(Service, service_id)
        tiers = (
            await session.exec(select(ScheduleTier.tier).where(ScheduleTier.service_id == service_id))
        ).all()
        if error is None:
            service.schedule_failures, service.schedule_error, service.retry_after = 0, None, None
        else:
            service.schedule_failures += 1
            service.schedule_error = error
            service.retry_after = ctx.clock.now() + retry_delay(service.schedule_failures, tiers)
        session.add(service)
        await session.commit()
