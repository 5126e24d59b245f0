"""Schedules from the Backups tab, and the worker loop the open TUI runs."""

from __future__ import annotations

from textual.widgets import Checkbox
from tui_support import (
    SIZE,
    make_app,
    open_service,
    record_notifications,
    screen_text,
    slow_export,
    wait_until,
)

from dflow_tui.core.enums import WorkerKind
from dflow_tui.service import Dflow
from dflow_tui.ui.screens.confirm import ConfirmScreen
from dflow_tui.ui.screens.schedule import ScheduleScreen


async def test_saving_a_daily_schedule_runs_a_due_backup_with_its_tier_badge(demo, dflow):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: dflow.serving, "the worker loop to start")
        await wait_until(pilot, lambda: app.schedule is not None, "the schedule to load")
        assert "Active schedules: none" in screen_text(app)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ScheduleScreen), "the schedule form")
        form = app.screen
        text = screen_text(app)
        for retention in ("kept for 24 hours", "kept for 7 days", "kept for 4 weeks", "kept for 12 months"):
            assert retention in text
        assert isinstance(app.focused, Checkbox) and app.focused.id == "tier-hourly"
        await pilot.press("tab", "space")  # Daily on
        assert form.chosen == ["daily"]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, ScheduleScreen), "the form to close")
        await wait_until(
            pilot, lambda: any(n[1] == "Schedule saved" for n in notes), "the schedule to be saved"
        )
        await wait_until(
            pilot,
            lambda: [(b.schedule_tier, b.status) for b in app.table.backups] == [("daily", "succeeded")],
            "the due daily backup to run",
            30,
        )
        await wait_until(pilot, lambda: "Active schedules: Daily" in screen_text(app), "the card to say so")
        [row] = app.table.backups
        assert app.table.get_cell(str(row.id), "trigger").plain.strip() == "daily"
    view = await dflow.schedules.show(demo.service)
    assert view.enabled == ["daily"]


async def test_escape_leaves_the_schedule_as_it_was(demo, dflow):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ScheduleScreen), "the schedule form")
        await pilot.press("space", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ScheduleScreen), "the form to close")
        await pilot.pause(0.2)
    assert (await dflow.schedules.show(demo.service)).enabled == []
    assert await dflow.backups.list(demo.service) == []


async def test_quitting_stops_the_worker_loop_cleanly(demo, dflow):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: dflow.serving, "the worker loop to start")
        loop = dflow.worker
        await wait_until(pilot, lambda: loop.passes >= 1, "a first scheduler pass")
    assert not dflow.serving
    assert not loop.running


async def test_a_scheduled_job_running_at_quit_is_recorded_failed_not_left_running(demo, dflow):
    slow_export(demo)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: dflow.serving, "the worker loop to start")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ScheduleScreen), "the schedule form")
        await pilot.press("space", "ctrl+s")  # hourly
        await wait_until(pilot, lambda: bool(dflow.worker.running), "the scheduled job to run")
        await wait_until(pilot, lambda: [b.status for b in app.table.backups] == ["in-progress"], "its row")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        assert f"Scheduled hourly backup 1 of {demo.service}" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit")
    assert notes  # the schedule was saved
    [stored] = await dflow.backups.list(demo.service)
    assert (stored.trigger, stored.schedule_tier, stored.status) == ("scheduled", "hourly", "failed")
    assert demo.dumps() == []


async def test_quitting_the_only_runner_of_schedules_says_they_will_wait(demo, dflow):
    """Schedules set, and nothing but this app has run them: closing it stops them, so
    `q` says so and asks; once a headless worker has run a pass, `q` quits at once."""
    await dflow.schedules.set(demo.service, ["daily"])
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await wait_until(pilot, lambda: dflow.worker.passes >= 1, "the app's own pass")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        text = " ".join(screen_text(app).split())
        assert "Schedules are set and no worker but this app has ever run" in text
        assert "`dflow-tui worker`" in text and "Still running" not in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the question to close")
        assert app.is_running

        headless = await Dflow.open(demo.settings, role=WorkerKind.WORKER)
        try:
            await headless.worker.once()
        finally:
            await headless.close()
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit")
