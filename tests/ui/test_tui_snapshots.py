"""What a user sees, frozen: fixed clock, fixed data, fixed terminal size.

pytest-textual-snapshot's `snap_compare` is synchronous, so these are plain `def`
tests; the state is seeded beforehand through the service layer, with its own loop.
Update the baselines with `--snapshot-update` on the whole file, never on a `-k`
subset (that deletes the others).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tui_support import ACTOR, SIZE, START, Demo, open_service, wait_until

from dflow_tui.core.clock import FixedClock
from dflow_tui.service import Dflow
from dflow_tui.ui.app import DflowApp
from dflow_tui.ui.screens.backup_detail import BackupDetailScreen
from dflow_tui.ui.screens.confirm import DeleteConfirmScreen, RestoreConfirmScreen

NO_SERVER_SERVICE = "lab/staging/orders-db"


async def seed(demo: Demo) -> dict[str, int]:
    """One backup of each status, six hours apart, and a service with no server."""
    clock = FixedClock(START)
    api = await Dflow.open(demo.settings, clock=clock, actor=ACTOR)
    try:
        await api.inventory.add_project("lab")
        await api.inventory.add_environment("lab", "staging")
        await api.inventory.add_service(NO_SERVER_SERVICE, "mysql")
        success = await api.backups.create_and_run(demo.service)
        assert success.status == "success", success.error
        clock.advance(timedelta(hours=6))
        hidden = demo.database.with_suffix(".hidden")
        demo.database.rename(hidden)  # the export fails: no such database
        failed = await api.backups.create_and_run(demo.service)
        hidden.rename(demo.database)
        assert failed.status == "failed"
        clock.advance(timedelta(hours=6))
        running = await api.backups.create(demo.service)  # recorded, never run: in progress
    finally:
        await api.close()
    return {"success": success.id, "failed": failed.id, "in-progress": running.id}


@pytest.fixture
def seeded(demo: Demo) -> Demo:
    asyncio.run(seed(demo))
    return demo


def make_app(demo: Demo) -> DflowApp:
    return DflowApp(demo.settings, clock=FixedClock(START + timedelta(days=1)), actor=ACTOR)


async def show_backups(pilot) -> None:
    await open_service(pilot)
    await wait_until(pilot, lambda: len(pilot.app.table.backups) == 3, "the three seeded rows")


async def into_table(pilot, downs: int) -> None:
    """Enter on the service focuses the table; then `downs` rows down (newest is first)."""
    await show_backups(pilot)
    await pilot.press("enter", *["down"] * downs)


class TestBackupsTab:
    def test_dark(self, seeded, snap_compare):
        assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=show_backups)

    def test_light(self, seeded, snap_compare):
        async def run_before(pilot):
            pilot.app.theme = "textual-light"
            await show_backups(pilot)

        assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


class TestRestoreModal:
    def test_confirmation(self, seeded, snap_compare):
        async def run_before(pilot):
            await into_table(pilot, downs=2)  # the successful backup
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, RestoreConfirmScreen), "modal")

        assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


class TestDeleteModal:
    def test_confirmation(self, seeded, snap_compare):
        async def run_before(pilot):
            await into_table(pilot, downs=1)  # the failed backup
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, DeleteConfirmScreen), "modal")

        assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


class TestFailedDetail:
    def test_enter_on_failed_row(self, seeded, snap_compare):
        async def run_before(pilot):
            await into_table(pilot, downs=1)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, BackupDetailScreen), "detail")

        assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)
