"""Scheduled backups with a moved clock, on the demo sandbox (local server, real files)."""

from __future__ import annotations

from datetime import timedelta

from infra.job_rows import claimed_backup

from dflow_tui.jobs.scheduler import run_pass
from dflow_tui.store.queries import rows
from dflow_tui.store.tables import Backup


async def _tiers_of(app, service, status="succeeded"):
    return sorted(
        (b.schedule_tier or "manual") for b in await app.backups.list(service) if b.status == status
    )


async def test_daily_and_weekly_queue_one_now_and_the_other_next_pass(app, service, clock):
    report = await app.schedules.set(service, ["daily", "weekly"])  # saving runs a pass at once

    assert [(b.trigger, b.schedule_tier) for b in report.queued] == [("scheduled", "weekly")]
    assert (await run_pass(app.ctx)).queued == []  # one in progress: nothing more for this service
    assert await app.worker.drain() == 1

    clock.advance(timedelta(minutes=10))  # the next pass
    second = await run_pass(app.ctx)
    assert [b.schedule_tier for b in second.queued] == ["daily"]
    await app.worker.drain()
    assert await _tiers_of(app, service) == ["daily", "weekly"]

    clock.advance(timedelta(hours=23, minutes=59))
    assert (await run_pass(app.ctx)).queued == []  # not before its interval
    clock.advance(timedelta(minutes=1))
    assert [b.schedule_tier for b in (await run_pass(app.ctx)).queued] == ["daily"]


async def test_schedule_off_queues_nothing(app, service):
    await app.schedules.set(service, ["hourly"])
    await app.worker.drain()
    report = await app.schedules.set(service, [])
    assert report.queued == []
    assert (await app.schedules.show(service)).active_text == "Active schedules: none"


async def test_active_schedules_line(app, service):
    await app.schedules.set(service, ["weekly", "daily"])
    view = await app.schedules.show(service)
    assert view.active_text == "Active schedules: Daily, Weekly"
    daily = next(t for t in view.tiers if t.tier == "daily")
    assert daily.retention == "kept for 7 days"


async def test_retention_keeps_seven_dailies_and_touches_nothing_else(app, service, clock, sandbox):
    await app.schedules.set(service, ["hourly", "weekly"])
    await app.worker.drain()
    await run_pass(app.ctx)
    await app.worker.drain()
    manual = await app.backups.create(service)
    assert await _tiers_of(app, service) == ["hourly", "manual", "weekly"]

    await app.schedules.set(service, ["daily"])
    await app.worker.drain()
    for _ in range(8):
        clock.advance(timedelta(days=1, minutes=10))
        await run_pass(app.ctx)
        await app.worker.drain()

    everything = await app.backups.list(service, include_deleted=True)
    daily = [b for b in everything if b.schedule_tier == "daily"]
    assert len(daily) == 9
    kept = await app.backups.list(service)
    kept_daily = [b for b in kept if b.schedule_tier == "daily"]
    assert len(kept_daily) == 7
    oldest_two = sorted(daily, key=lambda b: b.created_at)[:2]
    assert {b.id for b in oldest_two}.isdisjoint({b.id for b in kept})
    on_disk = {p.name for p in (sandbox / "backups").glob("*.dump")}
    for gone in oldest_two:
        assert gone.location.rsplit("/", 1)[1] not in on_disk
    for other in [b for b in kept if b.schedule_tier in ("hourly", "weekly")] + [manual]:
        assert other.id in {b.id for b in kept}
        assert other.location.rsplit("/", 1)[1] in on_disk
    assert len(on_disk) == 7 + 3


async def test_a_failing_service_backs_off(app, service, clock, sandbox):
    (sandbox / "databases" / "shop-db.sqlite").rename(sandbox / "databases" / "away")
    await app.schedules.set(service, ["hourly"])
    await app.worker.drain()
    view = await app.schedules.show(service)
    assert view.failures == 1 and "does not exist" in view.error
    assert view.retry_after == clock.now() + timedelta(minutes=10)

    clock.advance(timedelta(minutes=5))
    assert (await run_pass(app.ctx)).queued == []  # not hammered every pass
    clock.advance(timedelta(minutes=5))
    assert len((await run_pass(app.ctx)).queued) == 1
    await app.worker.drain()
    view = await app.schedules.show(service)
    assert view.failures == 2 and view.retry_after == clock.now() + timedelta(minutes=20)

    (sandbox / "databases" / "away").rename(sandbox / "databases" / "shop-db.sqlite")
    clock.advance(timedelta(minutes=20))
    await run_pass(app.ctx)
    await app.worker.drain()
    view = await app.schedules.show(service)
    assert view.failures == 0 and view.error is None


async def test_backoff_is_capped_at_the_tier_interval(app, service, clock, sandbox):
    (sandbox / "databases" / "shop-db.sqlite").unlink()
    await app.schedules.set(service, ["hourly"])
    for _ in range(6):
        await app.worker.drain()
        view = await app.schedules.show(service)
        clock.set(view.retry_after)
        await run_pass(app.ctx)
    view = await app.schedules.show(service)
    assert view.retry_after - clock.now() <= timedelta(hours=1)


async def test_stale_job_is_failed_and_its_partial_removed(app, service, clock, sandbox):
    queued = await claimed_backup(app, service)  # claimed by this process, never run: it "died"
    partial = sandbox / "backups" / (queued.file_path.rsplit("/", 1)[1] + ".partial")
    partial.parent.mkdir(exist_ok=True)
    partial.write_bytes(b"half a dump")

    clock.advance(app.settings.heartbeat_timeout - timedelta(seconds=10))
    assert (await run_pass(app.ctx)).cleaned == []
    clock.advance(timedelta(seconds=20))
    report = await run_pass(app.ctx)

    assert [c.id for c in report.cleaned] == [queued.id]
    failed = await app.backups.get(queued.id)
    assert failed.status == "failed" and "stopped sending heartbeats" in failed.error
    assert not partial.exists()
    async with app.db.session() as session:
        assert (await session.get(Backup, queued.id)).finished_at == clock.now()


async def test_a_job_with_a_live_heartbeat_is_never_failed_for_its_age(app, service, clock):
    queued = await claimed_backup(app, service)
    for _ in range(6 * 12):  # six hours of heartbeats, every five minutes
        clock.advance(timedelta(minutes=5))
        await rows.update(app.db, Backup, queued.id, heartbeat_at=clock.now())
        assert (await run_pass(app.ctx)).cleaned == []
    alive = await app.backups.get(queued.id)
    assert alive.status == "in-progress" and alive.error is None


async def test_unclaimed_queue_entry_is_failed_after_two_hours(app, service, clock):
    report = await app.schedules.set(service, ["daily"])
    clock.advance(timedelta(hours=2, minutes=1))
    await run_pass(app.ctx)
    failed = await app.backups.get(report.queued[0].id)
    assert failed.status == "failed" and "no worker picked it up" in failed.error
