"""What a user sees, frozen: fixed clock, fixed data, at 80×24 and at 160×48.

pytest-textual-snapshot's `snap_compare` is synchronous, so these are plain `def`
tests; the state is seeded beforehand through the service layer, with its own loop.
Update the baselines with `--snapshot-update` on the whole tests/ui directory, never
on a `-k` subset (that deletes the others).
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

import pytest
from infra.job_rows import claimed_backup, queued_operation
from tui_support import ACTOR, START, Demo, open_service, screen_text, wait_until

from dflow_tui.core.clock import FixedClock
from dflow_tui.core.enums import Trigger
from dflow_tui.core.views import Progress
from dflow_tui.jobs.runner import JobKind, backup_job
from dflow_tui.service import ClaimedJob, Dflow
from dflow_tui.ui.app import DflowApp
from dflow_tui.ui.job_watch import JobProgressed, JobStarted
from dflow_tui.ui.screens.activity import ActivityScreen
from dflow_tui.ui.screens.backup_detail import BackupDetailScreen
from dflow_tui.ui.screens.confirm import DeleteConfirmScreen, RestoreConfirmScreen
from dflow_tui.ui.screens.schedule import ScheduleScreen
from dflow_tui.ui.screens.servers import ServersScreen

NO_SERVER_SERVICE = "lab/staging/orders-db"
SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
ROWS = 5
SANDBOX_SHOWN_AS = "/srv/sandbox"


async def seed(demo: Demo) -> dict[str, int]:
    """One row of each kind, newest first in the table:
    in-progress, failed, being restored, daily (scheduled) and manual success."""
    clock = FixedClock(START)
    api = await Dflow.open(demo.settings, clock=clock, actor=ACTOR)
    try:
        await api.inventory.add_project("lab")
        await api.inventory.add_environment("lab", "staging")
        await api.inventory.add_service(NO_SERVER_SERVICE, "mysql")
        success = await api.backups.create(demo.service)
        assert success.status == "succeeded", success.error
        clock.advance(timedelta(hours=3))
        scheduled = await claimed_backup(api, demo.service, trigger=Trigger.SCHEDULED, tier="daily")
        await api.worker.run(await backup_job(api.ctx, scheduled.id))
        daily = await api.backups.get(scheduled.id)
        assert daily.status == "succeeded", daily.error
        clock.advance(timedelta(hours=3))
        restoring = await api.backups.create(demo.service)
        clock.advance(timedelta(hours=3))
        hidden = demo.database.with_suffix(".hidden")
        demo.database.rename(hidden)  # the export fails: no such database
        failed = await api.backups.create(demo.service)
        hidden.rename(demo.database)
        assert failed.status == "failed"
        clock.advance(timedelta(hours=3))
        # Recorded in this order: a backup is refused while a restore of its service is queued.
        running = await claimed_backup(api, demo.service)  # recorded, never run: in progress
        await queued_operation(api, restoring.id)  # queued, never run: "restoring…"
        # Saved last: its pass queues nothing while a backup is in progress.
        report = await api.schedules.set(demo.service, ["daily", "weekly"])
        assert not report.queued
    finally:
        await api.close()
    return {
        "succeeded": success.id,
        "daily": daily.id,
        "restoring": restoring.id,
        "failed": failed.id,
        "in-progress": running.id,
    }


def fix_sandbox_audit(demo: Demo) -> None:
    """The sandbox was set up by this OS login at the real time: freeze both."""
    with sqlite3.connect(demo.root / "state.db", timeout=60) as connection:
        connection.execute(
            "UPDATE audit_log SET actor = 'admin', at = ? WHERE actor != ?",
            ((START - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.%f"), ACTOR),
        )
        # Dump paths live under this run's temporary directory.
        connection.execute(
            "UPDATE audit_log SET detail = replace(detail, ?, ?)", (str(demo.root), SANDBOX_SHOWN_AS)
        )


def fix_server_paths(demo: Demo) -> None:
    """The sandbox server's backup directory, as the Servers screen shows it, fixed."""
    with sqlite3.connect(demo.root / "state.db", timeout=60) as connection:
        connection.execute(
            "UPDATE servers SET backup_dir = replace(backup_dir, ?, ?)", (str(demo.root), SANDBOX_SHOWN_AS)
        )


@pytest.fixture
def seeded(demo: Demo) -> Demo:
    asyncio.run(seed(demo))
    fix_sandbox_audit(demo)
    return demo


def make_app(demo: Demo) -> DflowApp:
    return DflowApp(demo.settings, clock=FixedClock(START + timedelta(days=1)), actor=ACTOR, scheduler=False)


async def show_backups(pilot) -> None:
    await open_service(pilot)
    await wait_until(pilot, lambda: len(pilot.app.table.backups) == ROWS, "the seeded rows")
    await wait_until(pilot, lambda: pilot.app.schedule is not None, "the schedule")


async def into_table(pilot, downs: int) -> None:
    """Enter on the service focuses the table; then `downs` rows down (newest is first)."""
    await show_backups(pilot)
    await pilot.press("enter", *["down"] * downs)


class TestServiceTree:
    @SIZES
    def test_tree_before_a_service_is_picked(self, seeded, snap_compare, size):
        async def run_before(pilot):
            await wait_until(pilot, lambda: pilot.app.services is not None, "the services")

        assert snap_compare(make_app(seeded), terminal_size=size, run_before=run_before)


class TestBackupsTab:
    @SIZES
    def test_every_status_and_badge(self, seeded, snap_compare, size):
        assert snap_compare(make_app(seeded), terminal_size=size, run_before=show_backups)

    def test_light(self, seeded, snap_compare):
        async def run_before(pilot):
            pilot.app.theme = "textual-light"
            await show_backups(pilot)

        assert snap_compare(make_app(seeded), terminal_size=(160, 48), run_before=run_before)


class TestScheduleForm:
    @SIZES
    def test_form(self, seeded, snap_compare, size):
        async def run_before(pilot):
            await show_backups(pilot)
            await pilot.press("c")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, ScheduleScreen), "form")

        assert snap_compare(make_app(seeded), terminal_size=size, run_before=run_before)


class TestRestoreModal:
    @SIZES
    def test_confirmation_half_typed(self, seeded, snap_compare, size):
        async def run_before(pilot):
            await into_table(pilot, downs=4)  # the manual successful backup
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, RestoreConfirmScreen), "modal")
            await pilot.press(*"demo/prod")

        assert snap_compare(make_app(seeded), terminal_size=size, run_before=run_before)


class TestDeleteModal:
    @SIZES
    def test_confirmation(self, seeded, snap_compare, size):
        async def run_before(pilot):
            await into_table(pilot, downs=1)  # the failed backup
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, DeleteConfirmScreen), "modal")

        assert snap_compare(make_app(seeded), terminal_size=size, run_before=run_before)


class TestFailedDetail:
    @SIZES
    def test_enter_on_failed_row(self, seeded, snap_compare, size):
        async def run_before(pilot):
            await into_table(pilot, downs=1)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, BackupDetailScreen), "detail")

        assert snap_compare(make_app(seeded), terminal_size=size, run_before=run_before)


class TestJobProgress:
    @SIZES
    def test_upload_with_bar_rate_eta_and_output(self, seeded, snap_compare, size):
        async def run_before(pilot):
            app = pilot.app
            await show_backups(pilot)
            path = app.service.path
            job = ClaimedJob(JobKind.BACKUP, 9, "Backup 9", 9, app.service.id, path, ACTOR)
            app.post_message(JobStarted(job))
            first = (10.0, 0)
            app.post_message(
                JobProgressed(job, Progress("backup 9", "uploading", 0, 64 * 2**20), 10.0, first)
            )
            for table in ("customers", "orders", "invoices"):
                line = Progress("backup 9", "uploading", output=f"-----> dumping table {table}")
                app.post_message(JobProgressed(job, line, 12.0, first))
            later = Progress("backup 9", "uploading", 16 * 2**20, 64 * 2**20)
            app.post_message(JobProgressed(job, later, 14.0, first))
            await wait_until(pilot, lambda: "ETA" in screen_text(app), "the progress line")
            await wait_until(pilot, lambda: "table invoices" in screen_text(app), "the output lines")

        assert snap_compare(make_app(seeded), terminal_size=size, run_before=run_before)


class TestServers:
    @SIZES
    def test_checked_local_server(self, seeded, snap_compare, size):
        fix_server_paths(seeded)  # nothing is backed up here: only shown

        async def run_before(pilot):
            app = pilot.app
            await wait_until(pilot, lambda: app.services is not None, "the services")
            await pilot.press("v")
            await wait_until(pilot, lambda: isinstance(app.screen, ServersScreen), "servers")
            await wait_until(pilot, lambda: app.screen.servers is not None, "the list")
            await pilot.press("c")
            await wait_until(
                pilot, lambda: "checking" not in str(app.screen.checks.get("this-machine")), "check"
            )

        app = make_app(seeded)
        assert snap_compare(app, terminal_size=size, run_before=run_before)


class TestActivity:
    @SIZES
    def test_audit_log_of_the_service(self, seeded, snap_compare, size):
        async def run_before(pilot):
            app = pilot.app
            await show_backups(pilot)
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen), "activity")
            await wait_until(pilot, lambda: app.screen.entries is not None, "the entries")

        assert snap_compare(make_app(seeded), terminal_size=size, run_before=run_before)


class TestFleet:
    @SIZES
    def test_every_service_sorted_by_last_result(self, seeded, snap_compare, size):
        from infra.fleet import seed_fleet

        from dflow_tui.ui.screens.fleet import FleetScreen

        async def add_fleet() -> None:
            api = await Dflow.open(seeded.settings, clock=FixedClock(START), actor=ACTOR)
            try:
                await seed_fleet(api.ctx.db, 12, now=START + timedelta(days=1), due=0.25, servers=2)
            finally:
                await api.close()

        asyncio.run(add_fleet())

        async def run_before(pilot):
            await wait_until(pilot, lambda: pilot.app.services is not None, "the services")
            await pilot.press("f")
            await wait_until(
                pilot,
                lambda: isinstance(pilot.app.screen, FleetScreen) and pilot.app.screen.loaded,
                "the fleet",
            )
            await pilot.press("s", "S")  # by result, descending

        assert snap_compare(make_app(seeded), terminal_size=size, run_before=run_before)


class TestWithoutColour:
    """NO_COLOR (or a monochrome terminal): ticked and unticked, chosen and not, still differ."""

    @SIZES
    def test_schedule_boxes_and_destination_radios(self, seeded, snap_compare, monkeypatch, size):
        monkeypatch.setenv("NO_COLOR", "1")

        async def run_before(pilot):
            await show_backups(pilot)
            # The glyph itself marks the state (the export drops the blank of an unset box).
            shown = screen_text(pilot.app).replace(" ", "")
            assert "▐●▌Internal" in shown and "▐●▌External" not in shown, shown
            await pilot.press("c")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, ScheduleScreen), "form")
            shown = screen_text(pilot.app).replace(" ", "")
            assert "▐X▌Daily" in shown and "▐X▌Hourly" not in shown, shown

        assert snap_compare(make_app(seeded), terminal_size=size, run_before=run_before)


class TestAt80x24:
    def test_the_footer_keeps_the_main_keys_and_help_opens_at_its_top(self, seeded, snap_compare):
        async def run_before(pilot):
            await show_backups(pilot)
            shown = screen_text(pilot.app)
            for key in ("? Keys", "b Backup", "r Restore", "d Delete", "q Quit"):
                assert key in shown, key
            # Status, storage and size whole, the unit included (the time comes last).
            assert "Status" in shown and "Storage   Size" in shown and "internal  267 B" in shown
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: pilot.app.screen.id == "help", "the keys")
            await pilot.pause(0.2)
            assert pilot.app.screen.query_one(".dialog").scroll_y == 0

        assert snap_compare(make_app(seeded), terminal_size=(80, 24), run_before=run_before)
