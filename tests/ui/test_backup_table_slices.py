"""The backup table on its own. A long list goes in in slices: the newest rows at once, the rest
between frames, with keys answered in between; a refresh keeps the cursor on its backup and
the scroll where it was, drops the rows that went away and shows the ones that changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from textual.app import App, ComposeResult
from textual.strip import Strip

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
        slice_once, cursor = table._show_slice, table.action_cursor

        def logged_slice():
            events.append("slice")
            slice_once()

        def logged_cursor(step: int):
            events.append(f"down with {table.row_count} rows")
            cursor(step)

        table._show_slice, table.action_cursor = logged_slice, logged_cursor
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


def painted(table: BackupTable) -> list[Strip]:
    """The table's lines of rows as the screen has them (lines not marked for drawing
    again come from Textual's cache: a line a refresh forgot shows its old text)."""
    return table.render_lines(table.region.reset_offset)[1:]  # under the header


def drawn(table: BackupTable) -> list[list[str]]:
    """The words of each painted line of rows, top to bottom."""
    return [
        words for words in ("".join(seg.text for seg in line).split() for line in painted(table)) if words
    ]


def cursor_words(table: BackupTable) -> list[str]:
    """The words of the line painted in the cursor's colours."""
    cursor = table.get_component_rich_style("row-list--cursor").bgcolor
    [line] = [
        line for line in painted(table) if any(seg.style and seg.style.bgcolor == cursor for seg in line)
    ]
    return "".join(seg.text for seg in line).split()


async def test_a_refresh_keeps_the_cursor_on_its_backup_drops_gone_rows_and_shows_changes():
    app = TableApp()
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(BackupTable)
        table.focus()
        listed = backups(50)  # ids 50 (newest) … 1
        table.show_backups(listed)
        await pilot.press("down", "down")
        assert table.selected_backup.id == 48 and cursor_words(table)[0] == "48"

        # A newer backup comes in on top: the cursor stays on 48, one line lower.
        newer = replace(listed[0], id=51, created_at=listed[0].created_at + timedelta(minutes=1))
        table.show_backups([newer, *listed])
        await pilot.pause()
        assert [words[0] for words in drawn(table)[:4]] == ["51", "50", "49", "48"]
        assert table.selected_backup.id == 48 and table.cursor_row == 3 and cursor_words(table)[0] == "48"

        # 49 went away: its line is gone, the cursor still on 48.
        kept = [backup for backup in [newer, *listed] if backup.id != 49]
        table.show_backups(kept)
        await pilot.pause()
        assert [words[0] for words in drawn(table)[:3]] == ["51", "50", "48"]
        assert table.row_count == 50 and 49 not in [backup.id for backup in table.backups]
        assert table.selected_backup.id == 48 and cursor_words(table)[0] == "48"

        # A poll reads every row again; 50 failed: its badge says so, in the error colour.
        polled = [replace(backup) for backup in kept]
        polled[1] = replace(polled[1], status="failed", error="disk full")
        table.show_backups(polled)
        await pilot.pause()
        assert drawn(table)[1][:2] == ["50", "failed"]
        assert table.get_cell("50", "status").style.bgcolor.name.lower() == table.palette.error.lower()
        assert table.backup(50).error == "disk full" and table.selected_backup.id == 48


async def test_a_refresh_keeps_the_scroll_position():
    app = TableApp()
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(BackupTable)
        table.focus()
        listed = backups(300)
        table.show_backups(listed)
        await pilot.press("pagedown", "pagedown", "pagedown")
        top, selected = table.scroll_offset.y, table.selected_backup.id
        assert top > 0 and drawn(table)[0][0] == str(300 - top)
        newer = replace(listed[0], id=301, created_at=listed[0].created_at + timedelta(minutes=1))
        table.show_backups([newer, *listed])
        await pilot.pause()
        # The same place in the list: the lines shift by the one row added above them.
        assert table.scroll_offset.y == top and drawn(table)[0][0] == str(300 - top + 1)
        assert table.selected_backup.id == selected


async def test_on_a_narrow_screen_the_time_scrolls_into_view_with_the_arrow_keys():
    app = TableApp()
    async with app.run_test(size=(50, 8)) as pilot:
        table = app.query_one(BackupTable)
        table.focus()
        table.show_backups(backups(3))
        await pilot.pause()
        assert "2026-03-01" not in " ".join(drawn(table)[0])
        await pilot.press(*["right"] * 20)
        assert "2026-03-01" in " ".join(drawn(table)[0])
        await pilot.press(*["left"] * 20)
        assert drawn(table)[0][0] == "3" and table.selected_backup.id == 3
