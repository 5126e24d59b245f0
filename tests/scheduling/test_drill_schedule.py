"""Restore drills on a schedule, on the demo sandbox with a moved clock: queued after the
backups, once per interval, at most one per server at a time, run by a worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from infra.sandbox import make_sandbox

from dflow_tui.core.errors import InvalidName
from dflow_tui.demo.sandbox import DEMO_SECOND_SERVICE
from dflow_tui.jobs.scheduler import run_pass

NEXT_PASS = timedelta(minutes=10)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch) -> Path:
    """Two services (postgres and mariadb) on the sandbox's one server."""
    root = tmp_path / "sandbox"
    make_sandbox(root, monkeypatch, second_engine=True)
    return root


async def _drilled(app, service) -> list[tuple[int, str]]:
    return [(drill.backup_id, drill.status) for drill in reversed(await app.backups.drills(service))]


async def test_a_drill_follows_the_backups_and_runs_once_per_interval(app, service, clock):
    await app.schedules.set(service, ["daily"])  # a daily backup is queued at once
    report = await app.schedules.set_drill(service, "weekly")
    assert report.drills == []  # the drill waits for the backup in the queue
    await app.worker.drain()
    [first_backup] = [b.id for b in await app.backups.list(service) if b.status == "succeeded"]

    clock.advance(NEXT_PASS)
    queued = (await run_pass(app.ctx)).drills
    assert [(d.backup_id, d.requested_by) for d in queued] == [(first_backup, "scheduler")]
    assert (await run_pass(app.ctx)).drills == []  # one queued: not two
    await app.worker.drain()
    assert await _drilled(app, service) == [(first_backup, "succeeded")]
    [listed] = await app.backups.drills(service)
    assert listed.probe is not None and listed.probe.endswith("rows, as when the backup was taken")

    for _ in range(6):  # a week of daily backups: no drill before its interval
        clock.advance(timedelta(days=1))
        assert (await run_pass(app.ctx)).drills == []
        await app.worker.drain()
    clock.advance(timedelta(days=1))
    week = await run_pass(app.ctx)  # a week after the drill: the day's backup first
    assert len(week.queued) == 1 and week.drills == []
    await app.worker.drain()
    clock.advance(NEXT_PASS)
    [again] = (await run_pass(app.ctx)).drills
    newest = max(b.id for b in await app.backups.list(service) if b.status == "succeeded")
    assert again.backup_id == newest
    await app.worker.drain()
    assert [status for _, status in await _drilled(app, service)] == ["succeeded", "succeeded"]
    assert [e.action for e in await app.audit.list(service) if e.actor == "scheduler"].count(
        "drill.queue"
    ) == 2


async def test_one_drill_per_server_at_a_time(app, service, clock):
    await app.backups.create(service)
    await app.backups.create(DEMO_SECOND_SERVICE)
    await app.schedules.set_drill(DEMO_SECOND_SERVICE, "daily")
    report = await app.schedules.set_drill(service, "daily")  # both due, one server
    assert len(report.drills) == 0  # the first save queued the other one's drill
    assert [d.status for d in await app.backups.drills(DEMO_SECOND_SERVICE)] == ["queued"]
    await app.worker.drain()
    clock.advance(NEXT_PASS)
    [second] = (await run_pass(app.ctx)).drills
    await app.worker.drain()
    assert [d.status for d in await app.backups.drills()] == ["succeeded", "succeeded"]
    assert (await app.backups.get(second.backup_id)).service_path == service


async def test_drills_off_and_refusals(app, service, clock):
    await app.backups.create(service)
    await app.schedules.set_drill(service, "monthly")
    assert (await app.schedules.show(service)).drill_every == "monthly"
    await app.worker.drain()
    report = await app.schedules.set_drill(service, "off")
    assert report.drills == [] and (await app.schedules.show(service)).drill_every is None
    clock.advance(timedelta(days=90))
    assert (await run_pass(app.ctx)).drills == []
    with pytest.raises(InvalidName, match="daily, weekly or monthly"):
        await app.schedules.set_drill(service, "hourly")


async def test_a_service_without_a_successful_backup_is_not_drilled(app, service):
    report = await app.schedules.set_drill(service, "daily")
    assert report.drills == []
    assert await app.backups.drills(service) == []


async def test_proven_restorable_and_a_failed_drill_makes_the_service_failing(app, service, clock, sandbox):
    await app.schedules.set(service, ["daily"])
    await app.worker.drain()
    [first] = [b.id for b in await app.backups.list(service)]
    view = await app.schedules.show(service)
    assert (view.state, view.proven_at, view.drill_error) == ("ok", None, None)

    clock.advance(NEXT_PASS)
    await app.backups.drill(service)
    view = await app.schedules.show(service)
    assert (view.state, view.proven_at, view.proven_backup_id) == ("ok", clock.now(), first)
    passed_at = clock.now()

    clock.advance(timedelta(hours=1))
    second = await app.backups.create(service)
    [dump] = [p for p in sandbox.rglob("*.dump") if p.name == (second.location or "").rsplit("/", 1)[-1]]
    dump.write_bytes(dump.read_bytes()[:-10])  # no longer the dump its record describes
    failed = await app.backups.drill(service)
    assert failed.status == "failed"
    view = await app.schedules.show(service)
    assert view.state == "failing" and "does not match its record" in (view.drill_error or "")
    assert (view.proven_at, view.proven_backup_id) == (passed_at, first)  # still the last proof
    assert (await app.schedules.show(service)).to_json()["drill_error"] == view.drill_error

    clock.advance(timedelta(hours=1))
    await app.backups.drill(service, first)  # a drill that passes ends the failure
    view = await app.schedules.show(service)
    assert (view.state, view.drill_error, view.proven_backup_id) == ("ok", None, first)
