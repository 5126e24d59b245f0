"""A long backup list goes into the table in slices: the newest rows at once, the rest
between frames, with keys answered in between."""

from __future__ import annotations

from datetime import datetime, timedelta

from textual.app import App, ComposeResult

from dflow_tui.core.views import BackupView
from dflow_tui.ui.widgets.backup_table import FIRST_SLICE, BackupTable

COUNT = 6_000
START = datetime(2026, 3, 1, 9, 0, 0)


def backups(count: int) -> list[BackupView]:
    """Newest first, as the service lists them."""
    return [
        BackupView(
            id=count - n,
            service_path="demo/production/shop-db",
            type="internal",
            status="succeeded",
            trigger="manual",
            schedule_tier=None,
            created_at=START - timedelta(minutes=n),
            finished_at=START - timedelta(minutes=n),
            size_bytes=1000 + n,
            sha256="ab" * 32,
            error=None,
            location=f"backups/shop-db-{n}.dump",
            requested_by="alice",
        )
        for n in range(count)
    ]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield BackupTable(id="table")


async def test_the_newest_rows_come_first_and_keys_are_answered_while_the_rest_go_in():
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(BackupTable)
        table.focus()
        events: list[str] = []
        slice_once, cursor_down = table._show_slice, table.action_cursor_down

        def logged_slice():
            events.append("slice")
            slice_once()

        def logged_down():
            events.append(f"down with {table.row_count} rows")
            cursor_down()

        table._show_slice, table.action_cursor_down = logged_slice, logged_down
        listed = backups(COUNT)

        table.show_backups(listed)
        assert table.row_count == FIRST_SLICE and table.filling
        assert [b.id for b in table.backups[:3]] == [COUNT, COUNT - 1, COUNT - 2]
        await pilot.press("down")
        while table.filling:
            await pilot.pause()

        assert table.row_count == COUNT and [b.id for b in table.backups] == [b.id for b in listed]
        downs = [i for i, event in enumerate(events) if event.startswith("down")]
        assert downs and downs[0] < len(events) - 1, events  # answered before the last slice
        assert events[downs[0]] != f"down with {COUNT} rows"
        assert table.cursor_row == 1 and table.selected_backup.id == COUNT - 1
