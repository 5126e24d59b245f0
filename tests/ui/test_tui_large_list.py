"""Thousands of backups: a refresh touches only the rows that changed, never the whole table.

2,000 rows here, well past any screen; `make benchmark` times the same at 10,000."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from tui_support import ACTOR, SIZE, open_service, status_cell, wait_until

from dflow_tui.ui.app import DflowApp

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


async def test_a_refresh_of_thousands_of_rows_updates_only_the_changed_cells(demo, dflow, monkeypatch):
    first = await dflow.backups.create(demo.service)
    seed_copies(demo, first.id, COUNT)
    app = DflowApp(demo.settings, dflow=dflow, actor=ACTOR, scheduler=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await wait_until(pilot, lambda: len(app.table.backups) == COUNT, f"{COUNT} rows", 60)
        table = app.table
        calls = {"add_row": 0, "remove_row": 0, "clear": 0, "update_cell": 0, "sort": 0}
        for name in calls:
            original = getattr(table, name)

            def counting(*args, _name=name, _original=original, **kwargs):
                calls[_name] += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(table, name, counting)
        changed = app.table.backups[5].id
        with sqlite3.connect(demo.root / "state.db", timeout=60) as connection:
            connection.execute(
                "UPDATE backups SET status = 'failed', error = 'disk full' WHERE id = ?", (changed,)
            )
        await wait_until(pilot, lambda: status_cell(app, changed) == "failed", "the changed row", 60)
        assert calls["add_row"] == calls["remove_row"] == calls["clear"] == calls["sort"] == 0
        assert calls["update_cell"] == 1  # the status cell of that one row
