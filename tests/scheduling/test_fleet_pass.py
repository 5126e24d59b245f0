"""A scheduler pass over a fleet: the same number of queries for 20 services as for 600,
and the same choices as a pass over each service alone; on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from infra.fleet import counted_queries, seed_fleet

from dflow_tui.jobs.scheduler import run_pass
from dflow_tui.service import Dflow
from dflow_tui.settings import Settings
from dflow_tui.store.queries import claims


@pytest.fixture
async def app(state_url, clock):
    """The service layer on a state database of each kind."""
    api = await Dflow.open(Settings(db_url=state_url), clock=clock)
    try:
        yield api
    finally:
        await api.close()


async def test_a_pass_with_nothing_due_costs_the_same_queries_whatever_the_fleet(app, clock):
    db = app.ctx.db
    await seed_fleet(db, 20, now=clock.now())
    with counted_queries(db) as small:
        report = await run_pass(app.ctx)
    assert report.ran and report.queued == []

    await seed_fleet(db, 580, now=clock.now(), first=20)
    with counted_queries(db) as large:
        report = await run_pass(app.ctx)
    assert report.ran and report.queued == []
    assert len(small) == len(large), (len(small), len(large))
    assert len(large) <= 10


async def test_the_due_services_and_only_they_are_queued_once(app, clock):
    db = app.ctx.db
    fleet = await seed_fleet(db, 200, now=clock.now(), due=0.1)  # every tenth is due
    assert len(fleet.due_ids) == 20
    report = await run_pass(app.ctx)
    assert sorted(b.service_id for b in report.queued) == sorted(fleet.due_ids)
    assert {(b.trigger, b.schedule_tier) for b in report.queued} == {("scheduled", "daily")}
    assert (await run_pass(app.ctx)).queued == []  # in progress now: not queued twice

    clock.advance(timedelta(hours=23))  # the others' last success is now a day old
    again = await run_pass(app.ctx)
    assert sorted(b.service_id for b in again.queued) == sorted(set(fleet.ids) - set(fleet.due_ids))


async def test_a_long_pass_renews_its_lock(app, clock, monkeypatch):
    """Queuing takes long (a slow database, a huge fleet): the pass extends its lock as it
    goes, so no other process takes it over and runs a second pass beside it."""
    from dflow_tui.jobs import scheduler

    await seed_fleet(app.ctx.db, 30, now=clock.now(), due=1.0)
    renewals: list = []
    acquire = claims.acquire_scheduler_lock

    async def watched(db, holder, now, ttl):
        renewals.append(now)
        return await acquire(db, holder, now, ttl)

    queue = scheduler._queue_batch

    async def slow_queue(ctx, due, report):
        clock.advance(timedelta(seconds=20))  # each batch (of one service here) takes 20 s
        await queue(ctx, due, report)

    monkeypatch.setattr(scheduler.claims, "acquire_scheduler_lock", watched)
    monkeypatch.setattr(scheduler, "_queue_batch", slow_queue)
    monkeypatch.setattr(scheduler, "BATCH", 1)
    report = await run_pass(app.ctx)
    assert len(report.queued) == 30  # 10 minutes of queuing, twice the lock's 5
    assert len(renewals) >= 1 + 9  # the first take, then about once a minute
    assert all(b - a <= timedelta(minutes=1, seconds=20) for a, b in itertools.pairwise(renewals))


async def test_workers_take_at_most_max_jobs_per_server_and_pass_over_a_full_one(app, clock):
    """Two servers, limit 2 each: the first claims fill server 0 (its jobs are oldest),
    then server 1 is served although server 0 still has older jobs waiting."""
    from sqlmodel import col, select, update

    from dflow_tui.store.tables import Backup, Server

    db = app.ctx.db
    await seed_fleet(db, 400, now=clock.now(), due=0.02, servers=2)  # 8 due: 4 per server
    report = await run_pass(app.ctx)
    assert len(report.queued) == 8
    async with db.session() as session:  # server 0's jobs are the oldest in the queue
        for backup in report.queued:
            if backup.server_id == report.queued[0].server_id:
                await session.exec(
                    update(Backup)
                    .where(col(Backup.id) == backup.id)
                    .values(created_at=clock.now() - timedelta(minutes=5))
                )
        await session.commit()
    busy = report.queued[0].server_id

    claimed = []
    for n in range(8):
        backup_id = await claims.claim_backup(db, f"worker:test:{n}", clock)
        if backup_id is None:
            break
        claimed.append(backup_id)
    servers = {b.id: b.server_id for b in report.queued}
    by_server = [servers[i] for i in claimed]
    assert len(claimed) == 4 and by_server[:2] == [busy, busy] and by_server.count(busy) == 2

    async with db.session() as session:  # one job on the busy server ends: one slot opens
        await session.exec(update(Backup).where(col(Backup.id) == claimed[0]).values(status="succeeded"))
        await session.exec(update(Server).where(col(Server.id) == busy).values(max_jobs=3))
        await session.commit()
    more = [await claims.claim_backup(db, "worker:test:9", clock) for _ in range(3)]
    assert [servers.get(i) for i in more] == [busy, busy, None]
    async with db.reading() as session:
        running = (
            await session.exec(
                select(Backup.server_id).where(
                    Backup.status == "in-progress", col(Backup.worker_id).is_not(None)
                )
            )
        ).all()
    assert running.count(busy) == 3


async def test_queued_in_bulk_with_an_audit_line_each(app, clock):
    fleet = await seed_fleet(app.ctx.db, 50, now=clock.now(), due=0.2)
    report = await run_pass(app.ctx)
    assert len(report.queued) == 10 and all(b.id for b in report.queued)
    lines = {
        (e.target, e.service_path, e.detail) for e in await app.audit.list() if e.action == "backup.queue"
    }
    assert len(lines) == 10
    for backup in report.queued:
        n = fleet.ids.index(backup.service_id)
        assert (
            f"backup {backup.id}",
            f"fleet-0/production/db{n}",
            "daily backup queued for a worker",
        ) in lines
        assert backup.file_path.rsplit("/", 1)[1].startswith(f"db{n}-")  # its own dump name


async def test_a_backup_started_meanwhile_is_skipped_and_the_others_queued(app, clock, monkeypatch):
    """The pass found them due; before it wrote, a backup of one of them started (a manual
    one, another process): the batch falls back to one by one and skips that one."""
    from dflow_tui.jobs import scheduler
    from dflow_tui.store.queries import schedules

    fleet = await seed_fleet(app.ctx.db, 30, now=clock.now(), due=0.1)
    started = fleet.due_ids[0]
    found = schedules.due_by_service

    async def then_one_starts(db, now, cutoffs):
        due = await found(db, now, cutoffs)
        from dflow_tui.core.enums import Trigger
        from dflow_tui.jobs.enqueue import record_backup

        await record_backup(app.ctx, started, trigger=Trigger.MANUAL, tier=None, actor="alice", claimed=True)
        return due

    monkeypatch.setattr(scheduler.schedules, "due_by_service", then_one_starts)
    report = await run_pass(app.ctx)
    assert sorted(b.service_id for b in report.queued) == sorted(fleet.due_ids[1:])
    assert report.refused == {}
