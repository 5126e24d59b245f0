"""Helpers for the TUI tests: the demo sandbox, a deterministic clock, bounded waiting."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dflow_tui.core.clock import FixedClock
from dflow_tui.demo.sandbox import DEMO_SERVICE
from dflow_tui.settings import Settings

START = datetime(2026, 3, 1, 9, 0, 0, tzinfo=timezone.utc)
ACTOR = "alice"
SIZE = (120, 36)


class TickingClock(FixedClock):
    """Fixed start, one second later at every reading: deterministic, and two
    backups never share a dump name."""

    def now(self) -> datetime:
        value = super().now()
        self.advance(timedelta(seconds=1))
        return value


@dataclass
class Demo:
    root: Path
    settings: Settings
    service: str = DEMO_SERVICE

    @property
    def database(self) -> Path:
        """The live demo database (the `dokku` stand-in keeps it as SQLite)."""
        return self.root / "databases" / "shop-db.sqlite"

    @property
    def backup_dir(self) -> Path:
        return self.root / "backups"

    def dumps(self) -> list[str]:
        return sorted(path.name for path in self.backup_dir.glob("*.dump"))

    def customers(self) -> list[str]:
        with sqlite3.connect(self.database) as connection:
            return [row[0] for row in connection.execute("SELECT customer FROM orders ORDER BY id")]

    def rename_customer(self, order_id: int, name: str) -> None:
        with sqlite3.connect(self.database) as connection:
            connection.execute("UPDATE orders SET customer = ? WHERE id = ?", (name, order_id))


async def wait_until(pilot, condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Lets the app run until `condition()` holds; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for: {what}")
        await pilot.pause(0.05)


async def open_service(pilot, path: str = DEMO_SERVICE, downs: int = 2) -> None:
    """Walks the service tree with the keyboard (`downs` presses from the first line)."""
    app = pilot.app
    await wait_until(pilot, lambda: app.services is not None, "the services to load")
    await wait_until(pilot, lambda: app.tree.cursor_line == 0, "the tree cursor on its first line")
    await pilot.press(*["down"] * downs)
    await wait_until(
        pilot, lambda: app.service is not None and app.service.path == path, f"{path} to be shown"
    )


def record_notifications(app) -> list[tuple[str, str, str]]:
    """(severity, title, message) of every notification the app shows from now on."""
    seen: list[tuple[str, str, str]] = []
    notify = app.notify

    def recording(message, *, title="", severity="information", **kwargs):
        seen.append((severity, title, str(message)))
        return notify(message, title=title, severity=severity, **kwargs)

    app.notify = recording
    return seen


def statuses(app) -> list[tuple[int, str]]:
    """(id, status) of the rows the backup table shows, top to bottom."""
    return [(backup.id, backup.status) for backup in app.table.backups]


def status_cell(app, backup_id: int) -> str:
    """The status text as drawn in the table."""
    return app.table.get_cell(str(backup_id), "status").plain.strip()
