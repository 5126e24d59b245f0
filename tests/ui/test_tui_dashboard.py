"""Servers, progress bars, the command palette, the keys screen and the theme key."""

from __future__ import annotations

import asyncio

from textual.widgets import ProgressBar
from tui_support import (
    ACTOR,
    SIZE,
    open_service,
    record_notifications,
    screen_text,
    wait_until,
)

from dflow_tui.core.errors import HostKeyUnknown
from dflow_tui.core.views import Progress
from dflow_tui.jobs import worker as worker_module
from dflow_tui.ui.app import DflowApp
from dflow_tui.ui.screens.confirm import ConfirmScreen
from dflow_tui.ui.screens.help import HelpScreen
from dflow_tui.ui.screens.servers import AddServerScreen, DiscoverScreen, ServersScreen
from dflow_tui.ui.widgets.job_progress import JobProgressRow


def make_app(demo, dflow) -> DflowApp:
    return DflowApp(demo.settings, dflow=dflow, actor=ACTOR, scheduler=False)


async def test_a_running_job_shows_a_progress_bar_with_rate_and_eta(demo, dflow, monkeypatch):
    step = asyncio.Event()
    run = worker_module.run_job

    async def reporting_run(ctx, job, on_progress=None):
        ticks = iter([0.0, 2.0])
        app.monotonic = lambda: next(ticks, 2.0)
        on_progress(Progress(job.key, "uploading", done_bytes=0, total_bytes=8_000_000))
        on_progress(Progress(job.key, "uploading", done_bytes=2_000_000, total_bytes=8_000_000))
        await step.wait()
        return await run(ctx, job, on_progress)

    monkeypatch.setattr(worker_module, "run_job", reporting_run)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: "ETA" in screen_text(app), "the progress line")
        [row] = app.query(JobProgressRow)
        bar = row.query_one(ProgressBar)
        assert (bar.progress, bar.total) == (2_000_000, 8_000_000)
        text = screen_text(app)
        assert "1.9 MiB of 7.6 MiB" in text and "976.6 KiB/s" in text, text
        assert "ETA 0:00:06" in text
        step.set()
        await wait_until(pilot, lambda: not app.query(JobProgressRow), "the line to go when done")
        await wait_until(pilot, lambda: [b.status for b in app.table.backups] == ["succeeded"], "succeeded")


async def test_servers_check_add_and_discover(demo, dflow):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await wait_until(pilot, lambda: app.services is not None, "the services")
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ServersScreen), "the Servers screen")
        screen = app.screen
        await wait_until(pilot, lambda: screen.servers is not None, "the servers")
        assert [s.name for s in screen.servers] == ["this-machine"]
        await pilot.press("c")
        await wait_until(pilot, lambda: "Connected." in screen_text(app), "the check result")
        # Add a server nobody listens on: the check says so, in a sentence.
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, AddServerScreen), "the form")
        await pilot.press(*"db-2", "tab", "tab", *"127.0.0.1", "tab", "backspace", "backspace", "1")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, "the form to close")
        await wait_until(pilot, lambda: any(n[1] == "Server added" for n in notes), "the server")
        assert screen.selected.name == "db-2" and screen.selected.port == 1
        await pilot.press("c")
        await wait_until(pilot, lambda: "Connection failed." in screen_text(app), "the failure", 30)
        # Discover this machine's databases into a new project.
        await pilot.press("down", "i")  # db-2 sorts first; this-machine is next
        await wait_until(pilot, lambda: isinstance(app.screen, DiscoverScreen), "the discover form")
        await pilot.press(*"found", "enter")
        await wait_until(pilot, lambda: "Discovered " in screen_text(app), "the discovery")
        assert "found/production/shop-db" in screen_text(app)
        await pilot.press("escape")
        await wait_until(
            pilot,
            lambda: any(s.path == "found/production/shop-db" for s in app.services or []),
            "the tree to list the discovered service",
        )


async def test_an_unknown_host_key_shows_its_fingerprint_and_can_be_trusted(demo, dflow, monkeypatch):
    trusted: list[tuple[str, str]] = []
    checks = iter([HostKeyUnknown("db.example.com", 22, "SHA256:abcdefFINGERPRINT")])

    async def check_server(name):
        error = next(checks, None)
        if error is not None:
            raise error
        from dflow_tui.service.inventory import CheckResult

        return CheckResult(name, "dokku@db.example.com:22", "0.35.1")

    async def trust_server(name, expected_fingerprint=None):
        trusted.append((name, expected_fingerprint))
        return expected_fingerprint

    monkeypatch.setattr(dflow.inventory, "check_server", check_server)
    monkeypatch.setattr(dflow.inventory, "trust_server", trust_server)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services is not None, "the services")
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ServersScreen), "the Servers screen")
        await wait_until(pilot, lambda: app.screen.servers is not None, "the servers")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the trust question")
        assert "SHA256:abcdefFINGERPRINT" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: "dokku version`: 0.35.1" in screen_text(app), "the re-check")
    assert trusted == [("this-machine", "SHA256:abcdefFINGERPRINT")]


async def test_palette_jumps_to_a_service_and_opens_screens(demo, dflow):
    await dflow.inventory.add_project("lab")
    await dflow.inventory.add_environment("lab", "staging")
    await dflow.inventory.add_service("lab/staging/orders-db", "mysql")
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services is not None, "the services")
        await pilot.press("ctrl+p")
        await pilot.press(*"orders-db")
        await wait_until(pilot, lambda: "mysql service on no server" in screen_text(app), "the hit")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: app.service is not None and app.service.path == "lab/staging/orders-db",
            "the service to be shown",
        )
        await pilot.press("ctrl+p", *"open servers")
        await wait_until(pilot, lambda: "Servers: list, add" in screen_text(app), "the hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServersScreen), "the Servers screen")
        await pilot.press("escape")
        # The built-in commands are still there (the provider is added, not substituted).
        await pilot.press("ctrl+p", *"quit")
        await wait_until(pilot, lambda: "Quit the application" in screen_text(app), "a built-in")
        await pilot.press("escape")


async def test_question_mark_lists_the_keys_and_t_switches_the_theme(demo, dflow):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services is not None, "the services")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the keys")
        text = screen_text(app)
        for words in ("Backup", "Restore", "Activity", "Servers", "ctrl+p", "Light/dark theme"):
            assert words in text, words
        await pilot.press("escape")
        dark = app.current_theme.dark
        await pilot.press("t")
        assert app.current_theme.dark is not dark


async def test_tab_goes_from_the_tree_to_the_destination_then_the_actions_then_the_table(demo, dflow):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        app.service_tree.focus()
        visited = []
        for _ in range(7):
            await pilot.press("tab")
            await pilot.pause(0.05)
            visited.append(app.focused.id if app.focused else None)
        assert visited[:3] == ["destination-kind", "destination-copies", "save-destination"]
        assert "create-backup" in visited and visited.index("create-backup") < visited.index("backup-table")
