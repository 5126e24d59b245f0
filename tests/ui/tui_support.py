"""Helpers for the TUI tests: the demo sandbox, a deterministic clock, bounded waiting."""

from __future__ import annotations

import html
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dflow_tui.core.clock import FixedClock
from dflow_tui.demo.sandbox import DEMO_SERVICE
from dflow_tui.settings import Settings
from dflow_tui.ui.app import DflowApp

START = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
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


def make_app(demo: Demo, dflow) -> DflowApp:
    """The app on the sandbox, sharing the test's service layer, with its worker loop on."""
    return DflowApp(demo.settings, dflow=dflow, actor=ACTOR)


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
    await wait_until(pilot, lambda: app.service_tree.cursor_line == 0, "the tree cursor on its first line")
    await pilot.press(*["down"] * downs)
    await wait_until(
        pilot, lambda: app.service is not None and app.service.path == path, f"{path} to be shown"
    )


def before_dokku(demo: Demo, line: str) -> None:
    """Puts a shell line at the top of the demo's `dokku`, run before each command."""
    script = demo.root / "bin" / "dokku"
    lines = script.read_text().splitlines()
    lines.insert(1, line)
    script.write_text("\n".join(lines) + "\n")


def slow_export(demo: Demo, seconds: int = 30) -> None:
    """Makes the demo `dokku postgres:export` say it waits, then wait `seconds` before it
    exports: long enough to watch it run, or to interrupt it."""
    before_dokku(
        demo,
        f'case "$1" in postgres:export) echo "-----> waiting for a lock on $2" >&2; sleep {seconds};; esac',
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


async def focus(pilot, widget) -> None:
    """Tabs through the main screen until `widget` has the focus."""
    for _ in range(12):
        if pilot.app.focused is widget:
            return
        await pilot.press("tab")
    raise AssertionError(f"Tab never reached {widget}")


def statuses(app) -> list[tuple[int, str]]:
    """(id, status) of the rows the backup table shows, top to bottom."""
    return [(backup.id, backup.status) for backup in app.table.backups]


def status_cell(app, backup_id: int) -> str:
    """The status text as drawn in the table."""
    return app.table.get_cell(str(backup_id), "status").plain.strip()


def screen_text(app) -> str:
    """Everything the terminal shows now (the screen and any modal over it), as plain text."""
    svg = app.export_screenshot()
    runs = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    return html.unescape("".join(runs)).replace("\xa0", " ")


# Fixed providers for the storage tests: what `storage list` would show, no network.
VERIFIED_REASON = (
    "PutObject, GetObject, ListBucket and DeleteObject work on s3://acme-backups/dflow/backups/ "
    "(versioned bucket: old versions can be deleted too)"
)
UNVERIFIED_REASON = (
    "The provider rejected the secret access key (SignatureDoesNotMatch): check it, "
    "and that it belongs to access key labkey"
)
FIXED_SECRETS = {"b2": "K003-fixed-secret-for-b2", "minio-lab": "fixed-secret-for-minio"}


async def add_fixed_providers(api) -> None:
    """Two providers, as the service adds them (secrets to the keyring in use)."""
    await api.storage.add(
        "b2",
        endpoint_url="https://s3.eu-central-003.backblazeb2.com",
        region="eu-central-003",
        bucket="acme-backups",
        access_key_id="0031a2b3c4d5e6f0000000001",
        secret_access_key=FIXED_SECRETS["b2"],
    )
    await api.storage.add(
        "minio-lab",
        endpoint_url="http://minio.lab.internal:9000",
        region="",
        bucket="dumps",
        prefix="lab",
        access_key_id="labkey",
        secret_access_key=FIXED_SECRETS["minio-lab"],
    )


def set_provider_status(demo: Demo, name: str, status: str, reason: str, checked: datetime) -> None:
    """What a verify would have recorded, written straight into the state database."""
    with sqlite3.connect(demo.root / "state.db", timeout=60) as connection:
        connection.execute(
            "UPDATE storage_providers SET status = ?, status_reason = ?, verified_at = ? WHERE name = ?",
            (status, reason, checked.strftime("%Y-%m-%d %H:%M:%S.%f"), name),
        )


def fix_provider_statuses(demo: Demo) -> None:
    """b2 verified, minio-lab unverified, both with fixed reasons and times."""
    set_provider_status(demo, "b2", "verified", VERIFIED_REASON, START)
    set_provider_status(demo, "minio-lab", "unverified", UNVERIFIED_REASON, START + timedelta(minutes=5))
