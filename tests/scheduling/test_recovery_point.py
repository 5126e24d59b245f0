"""A service's recovery point with a moved clock: each state reached, on the demo sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dflow_tui.core.enums import RecoveryState
from dflow_tui.core.errors import InvalidName
from dflow_tui.core.policy import recovery_point
from dflow_tui.core.tiers import parse_duration
from dflow_tui.jobs.scheduler import run_pass


async def state(app, service) -> str:
    """The state as the Fleet view and `status` read it, checked against the Backups tab's
    and `schedule show`'s (read per service, by other queries)."""
    [row] = await app.fleet.rows(service)
    shown = await app.schedules.show(service)
    assert (shown.state, shown.rpo) == (row.state, row.rpo)
    return row.state


async def test_off_never_ok_failing_late_and_back(app, service, clock, sandbox):
    assert await state(app, service) == "off"  # no schedule: nothing promised

    await app.schedules.set(service, ["daily"])  # queued, not run yet
    assert await state(app, service) == "never"
    await app.worker.drain()
    assert await state(app, service) == "ok"
    [row] = await app.fleet.rows(service)
    assert row.rpo == timedelta(hours=36)  # a day, and half a day of grace

    database = sandbox / "databases" / "shop-db.sqlite"
    database.rename(database.with_suffix(".away"))  # the next export fails
    await app.backups.create(service)
    assert await state(app, service) == "failing"  # the last run failed, a success is recent

    clock.advance(timedelta(hours=36, minutes=1))  # past the recovery point
    assert await state(app, service) == "late"
    database.with_suffix(".away").rename(database)
    await app.backups.create(service)
    assert await state(app, service) == "ok"


async def test_late_when_no_worker_runs_the_queued_backups(app, service, clock):
    await app.schedules.set(service, ["hourly"])
    await app.worker.drain()
    clock.advance(timedelta(hours=1))
    assert len((await run_pass(app.ctx)).queued) == 1  # queued, and nobody takes it
    assert await state(app, service) == "ok"
    clock.advance(timedelta(minutes=31))  # an hour and a half since the last success
    assert await state(app, service) == "late"


async def test_a_grace_of_the_services_own(app, service, clock):
    await app.schedules.set(service, ["daily", "weekly"], grace=parse_duration("2h"))
    await app.worker.drain()
    [row] = await app.fleet.rows(service)
    assert row.rpo == timedelta(hours=26)  # the shortest tier, daily, plus 2 h
    clock.advance(timedelta(hours=25))
    assert await state(app, service) == "ok"
    clock.advance(timedelta(hours=1, seconds=1))
    assert await state(app, service) == "late"


def test_the_rules():
    assert recovery_point([]) is None
    assert recovery_point(["weekly", "hourly"]) == timedelta(minutes=90)
    assert recovery_point(["monthly"], timedelta(0)) == timedelta(days=30)
    assert [s.exit_code for s in RecoveryState] == [0, 0, 1, 2, 2]  # off ok failing never late
    assert parse_duration("45s") == timedelta(seconds=45) and parse_duration("1d") == timedelta(days=1)
    for bad in ("", "m", "1.5h", "-1h", "3w"):
        with pytest.raises(InvalidName, match="Invalid duration"):
            parse_duration(bad)
