"""Thousands of backups: a refresh makes again only the rows that changed, never the whole table.

2,000 rows here, well past any screen; `make benchmark` times the same at 10,000."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from tui_support import ACTOR, SIZE, open_service, screen_text, status_cell, wait_until

from dflow_tui.ui.app import DflowApp
from dflow_tui.ui.format import BACKUP_COLUMNS
from dflow_tui.ui.widgets import backup_table

COUNT = 2_000
EARLIER = datetime(2026, 1, 1)  # before the real backup: it stays on top


def seed_copies(demo, template_id: int, count: int) -> None:
    """`count - 1` copies of one real backup row, one second apart, straight into SQLite."""
    with sqlite3.connect(demo.root / "state.db", timeout=60) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(backups)") if row[1] != "id"]
        row = connection.execute(
            f"SELECT {', '.join(columns)} FROM backups WHERE id = ?", (template_id,)
        ).fetchone()
        values = dict(zip(columns, row, strict=False))
        assert values["status"] == "succeeded"
        created = columns.index("created_at")
        copies = []
        for n in range(1, count):
            copy = list(row)
            copy[created] = (EARLIER + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S.%f")
            copies.append(copy)
        connection.executemany(
            f"INSERT INTO backups ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", copies
        )


async def test_a_refresh_of_thousands_of_rows_makes_only_the_changed_row_again(demo, dflow, monkeypatch):
    first = await dflow.backups.create(demo.service)
    seed_copies(demo, first.id, COUNT)
    app = DflowApp(demo.settings, dflow=dflow, actor=ACTOR, scheduler=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await wait_until(pilot, lambda: len(app.table.backups) == COUNT, f"{COUNT} rows", 60)
        table = app.table
        await wait_until(pilot, lambda: "failed" not in screen_text(app), "the rows drawn")
        rows = list(table.rows)
        made: list[int] = []  # the backups whose cells are made (drawn) from now on
        cell = backup_table.backup_cell

        def counting(column, backup, palette):
            made.append(backup.id)
            return cell(column, backup, palette)

        monkeypatch.setattr(backup_table, "backup_cell", counting)
        changed = app.table.backups[5].id
        with sqlite3.connect(demo.root / "state.db", timeout=60) as connection:
            connection.execute(
                "UPDATE backups SET status = 'failed', error = 'disk full' WHERE id = ?", (changed,)
            )
        await wait_until(pilot, lambda: "failed" in screen_text(app), "the changed row on screen", 60)
        await pilot.pause()
        # Every backup was read again, but no row was added, removed or rebuilt, and only the
        # changed one had its cells made again (one per column).
        assert all(now is before for now, before in zip(table.rows, rows, strict=True))
        assert made == [changed] * len(BACKUP_COLUMNS)
        assert status_cell(app, changed) == "failed"
        assert [b.status for b in app.table.backups].count("failed") == 1
