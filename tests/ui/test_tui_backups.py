"""The Backups tab driven with the keyboard, against the demo sandbox."""

from __future__ import annotations

import asyncio

from textual.widgets import Checkbox
from tui_support import (
    ACTOR,
    SIZE,
    make_app,
    open_service,
    record_notifications,
    screen_text,
    slow_export,
    status_cell,
    statuses,
    wait_until,
)

from dflow_tui.jobs import worker as worker_module
from dflow_tui.ui.app import DflowApp
from dflow_tui.ui.screens.backup_detail import BackupDetailScreen
from dflow_tui.ui.screens.confirm import (
    ConfirmScreen,
    DeleteConfirmScreen,
    RestoreConfirmScreen,
)


async def test_keyboard_picks_the_service_and_shows_its_summary(demo, dflow):
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        assert app.service is None
        await open_service(pilot)
        summary = str(app.query_one("#service-summary").render())
        assert demo.service in summary
        assert "this-machine" in summary and "postgres" in summary
        assert app.panel.destination.border_title == "Backup destination: internal"
        await pilot.press("enter")
        assert app.focused is app.table


async def test_create_backup_shows_in_progress_then_success(demo, dflow, monkeypatch):
    # Hold the job at its start, so the in-progress row can be seen for sure.
    release = asyncio.Event()
    run = worker_module.run_job

    async def gated_run(ctx, job, on_progress=None):
        await release.wait()
        return await run(ctx, job, on_progress)

    monkeypatch.setattr(worker_module, "run_job", gated_run)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        assert statuses(app) == []
        await pilot.press("b")
        await wait_until(pilot, lambda: len(statuses(app)) == 1, "the new row")
        backup_id, status = statuses(app)[0]
        assert status == "in-progress"
        assert status_cell(app, backup_id) == "in-progress"
        release.set()
        await wait_until(pilot, lambda: statuses(app) == [(backup_id, "succeeded")], "the row to succeed")
        assert status_cell(app, backup_id) == "succeeded"
        assert app.table.get_cell(str(backup_id), "size").plain.strip().endswith("B")
        await wait_until(pilot, lambda: any(n[1] == "Backup done" for n in notes), "the done notice")
    [stored] = await dflow.backups.list(demo.service)
    assert stored.status == "succeeded" and len(demo.dumps()) == 1


async def test_restore_cancelled_with_escape_or_a_wrong_name_does_nothing(demo, dflow):
    backup = await dflow.backups.create(demo.service)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await wait_until(pilot, lambda: statuses(app) == [(backup.id, "succeeded")], "the backup row")
        for typed in ("", "y", "demo/production/shop", "shop-db"):
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, RestoreConfirmScreen), "the modal")
            await pilot.press(*typed, "enter")  # y is a letter here; Enter refuses a wrong name
            assert isinstance(app.screen, RestoreConfirmScreen)
            assert app.screen.query_one("#confirm").disabled
            await pilot.press("escape")
            await wait_until(
                pilot, lambda: not isinstance(app.screen, RestoreConfirmScreen), "the modal to close"
            )
        await pilot.pause(0.3)
    [stored] = await dflow.backups.list(demo.service)
    assert stored.operation_kind is None  # no restore was even queued


async def test_restore_confirmed_brings_the_data_back(demo, dflow):
    backup = await dflow.backups.create(demo.service)
    demo.rename_customer(1, "Mallory")
    assert demo.customers()[0] == "Mallory"
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: statuses(app) == [(backup.id, "succeeded")], "the backup row")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreConfirmScreen), "the modal")
        modal = app.screen
        message = str(modal.query_one(".dialog-message").render())
        assert f"Replace the live database {demo.service}" in message
        assert "2026-03-01" in message and "cannot be undone" in message
        assert modal.query_one("#safety-backup", Checkbox).value is True
        assert modal.query_one("#confirm").disabled
        await pilot.press(*demo.service)  # typing the service's path enables Restore
        assert not modal.query_one("#confirm").disabled
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: any(n[1] == "Restore done" for n in notes), "the restore to finish", 30
        )
    rows = {row.id: row for row in await dflow.backups.list(demo.service)}
    assert (rows[backup.id].operation_kind, rows[backup.id].operation_status) == ("restore", "succeeded")
    assert demo.customers() == ["Ada", "Grace", "Linus"]
    # The safety backup taken first holds the data as it was before the restore.
    safety = [row for row in rows.values() if row.id != backup.id]
    assert len(safety) == 1 and safety[0].status == "succeeded"


async def test_restore_without_safety_backup_by_keyboard(demo, dflow):
    backup = await dflow.backups.create(demo.service)
    demo.rename_customer(2, "Eve")
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: statuses(app) == [(backup.id, "succeeded")], "the backup row")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreConfirmScreen), "the modal")
        await pilot.press(*demo.service)  # the name field has the focus
        await pilot.press("shift+tab")  # → the safety backup checkbox
        assert isinstance(app.focused, Checkbox)
        await pilot.press("space")
        assert app.screen.safety_backup is False
        await pilot.press("tab", "enter")
        await wait_until(
            pilot, lambda: any(n[1] == "Restore done" for n in notes), "the restore to finish", 30
        )
    assert [row.id for row in await dflow.backups.list(demo.service)] == [backup.id]
    assert demo.customers() == ["Ada", "Grace", "Linus"]


async def test_restore_of_a_failed_backup_is_refused_without_a_modal(demo, dflow):
    demo.database.unlink()
    failed = await dflow.backups.create(demo.service)
    assert failed.status == "failed"
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: statuses(app) == [(failed.id, "failed")], "the failed row")
        await pilot.press("r")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, RestoreConfirmScreen)
        assert any(n[0] == "warning" and "only a successful backup" in n[2] for n in notes)


async def test_delete_confirmed_removes_the_row_and_the_dump(demo, dflow):
    keep = await dflow.backups.create(demo.service)
    doomed = await dflow.backups.create(demo.service)
    assert len(demo.dumps()) == 2
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await wait_until(pilot, lambda: len(statuses(app)) == 2, "both rows")
        assert statuses(app)[0] == (doomed.id, "succeeded")  # newest first, under the cursor
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DeleteConfirmScreen), "the modal")
        message = str(app.screen.query_one(".dialog-message").render())
        assert f"(backup {doomed.id}) of {demo.service}" in message
        assert "this-machine" in message
        await pilot.press("y")
        await wait_until(pilot, lambda: statuses(app) == [(keep.id, "succeeded")], "the row to go")
    assert [row.id for row in await dflow.backups.list(demo.service)] == [keep.id]
    assert demo.dumps() == [keep.location.rsplit("/", 1)[-1]]


async def test_p_proves_the_backup_restores_and_the_tab_says_so(demo, dflow):
    backup = await dflow.backups.create(demo.service)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: len(statuses(app)) == 1, "the row")
        assert "proven restorable" not in screen_text(app)
        await pilot.press("p")  # nothing to confirm: the live service is not touched
        await wait_until(pilot, lambda: "proven restorable" in screen_text(app), "the proof", 30)
        assert f"ago (backup {backup.id})" in screen_text(app)
        assert any("Drill" in note[1] for note in notes)
    [drill] = await dflow.backups.drills(demo.service)
    assert (drill.backup_id, drill.status, drill.requested_by) == (backup.id, "succeeded", ACTOR)
    assert demo.dumps() == [backup.location.rsplit("/", 1)[-1]]  # the backup itself, untouched


async def test_failed_export_shows_a_failed_row_an_error_and_its_detail(demo, dflow):
    demo.database.unlink()  # the demo `dokku postgres:export` now fails
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: [s for _, s in statuses(app)] == ["failed"], "the row to fail")
        [(backup_id, _)] = statuses(app)
        assert status_cell(app, backup_id) == "failed"
        await wait_until(pilot, lambda: any(n[0] == "error" for n in notes), "an error notification")
        severity, title, message = next(n for n in notes if n[0] == "error")
        assert title == "Backup failed"
        assert f"Backup {backup_id} of {demo.service} failed" in message
        assert "does not exist" in message
        # Enter on the service moves into the table; Enter on the row shows the error in full.
        await pilot.press("enter")
        assert app.focused is app.table
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BackupDetailScreen), "the detail")
        error = str(app.screen.query_one(".detail-error").render())
        assert "does not exist" in error
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, BackupDetailScreen), "closing")
        await pilot.press("e")  # the same from anywhere
        await wait_until(pilot, lambda: isinstance(app.screen, BackupDetailScreen), "the detail")
        assert app.is_running


async def test_service_without_a_server_says_so_and_creates_nothing(demo, dflow):
    await dflow.inventory.add_project("lab")
    await dflow.inventory.add_environment("lab", "staging")
    await dflow.inventory.add_service("lab/staging/orders-db", "mysql")
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        # demo, production, shop-db, lab, staging, orders-db
        await open_service(pilot, "lab/staging/orders-db", downs=5)
        label = str(app.service_tree.cursor_node.label)
        assert "no server" in label
        await pilot.press("b")
        await wait_until(pilot, lambda: any(n[0] == "warning" for n in notes), "the refusal")
        severity, title, message = next(n for n in notes if n[0] == "warning")
        assert title == "Backup not started"
        assert message.startswith("No server for lab/staging/orders-db")
        assert "Traceback" not in message
        await pilot.pause(0.3)
        assert statuses(app) == [] and app.is_running
    assert await dflow.backups.list("lab/staging/orders-db") == []


async def test_an_unexpected_error_is_a_notification_not_a_crash(demo, dflow, monkeypatch):
    async def broken_create(path, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(dflow.backups, "create", broken_create)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: any(n[0] == "error" for n in notes), "an error notification")
        assert notes[-1][2] == "Unexpected error: RuntimeError: disk on fire"
        await pilot.press("down")  # still answering keys
        assert app.is_running and app.return_code is None


async def test_live_refresh_keeps_the_cursor_on_its_backup(demo, dflow):
    older = await dflow.backups.create(demo.service)
    newer = await dflow.backups.create(demo.service)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await pilot.press("enter")  # into the table
        await wait_until(pilot, lambda: len(statuses(app)) == 2, "both rows")
        await pilot.press("down")
        assert app.table.selected_backup.id == older.id
        # Someone else (the CLI, a scheduler) makes a backup: the poll picks it up.
        newest = await dflow.backups.create(demo.service)
        await wait_until(pilot, lambda: len(statuses(app)) == 3, "the new row from the poll")
        assert [backup_id for backup_id, _ in statuses(app)] == [newest.id, newer.id, older.id]
        assert app.table.selected_backup.id == older.id
        assert app.table.cursor_row == 2


async def test_quit_while_a_backup_runs_asks_then_stops_it(demo, dflow):
    slow_export(demo)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: [s for _, s in statuses(app)] == ["in-progress"], "the job")
        await wait_until(pilot, lambda: "exporting" in screen_text(app), "the export")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        assert f"Backup 1 of {demo.service}" in str(app.screen.query_one(".dialog-message").render())
        await pilot.press("n")
        await pilot.pause(0.2)
        assert app.is_running and [s for _, s in statuses(app)] == ["in-progress"]
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit")
    [stored] = await dflow.backups.list(demo.service)
    assert stored.status == "failed"
    assert stored.error == "Cancelled before it finished"
    assert demo.dumps() == []


async def test_switching_theme_redraws_the_badges(demo, dflow):
    backup = await dflow.backups.create(demo.service)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await wait_until(pilot, lambda: statuses(app) == [(backup.id, "succeeded")], "the backup row")
        dark = app.table.palette
        app.theme = "textual-light"
        await wait_until(pilot, lambda: app.table.palette != dark, "the light palette")
        cell = app.table.get_cell(str(backup.id), "status")
        assert cell.style.bgcolor.name.lower() == app.table.palette.success.lower()


async def test_a_state_database_that_cannot_open_is_reported_in_the_app():
    from dflow_tui.settings import Settings

    app = DflowApp(Settings(db_url="nosuchdriver://nowhere/state"), actor=ACTOR)
    notes = record_notifications(app)  # the failure comes at once
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: any(n[0] == "error" for n in notes), "an error notification")
        severity, title, message = notes[-1]
        assert title == "Opening the state database failed"
        assert message.startswith(
            "State database URL 'nosuchdriver://nowhere/state': nosuchdriver is not supported"
        )
        assert "Traceback" not in message
        assert "could not be opened" in str(app.query_one("#pick-a-service").render())
        await pilot.press("b", "down")  # nothing to act on: nothing happens, nothing crashes
        assert app.is_running


async def test_an_empty_state_says_what_to_do_first(tmp_path):
    from dflow_tui.settings import Settings

    app = DflowApp(Settings(db_url=f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"), actor=ACTOR)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services == [], "the (empty) services")
        hint = str(app.query_one("#pick-a-service").render())
        assert hint.startswith("No database services yet. Press v to add a server") and "--demo" in hint


async def test_a_dead_host_fails_the_backup_and_its_error_can_be_read(demo, dflow):
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await dflow.inventory.add_server("gone-host", host="127.0.0.1", port=port)
    await dflow.inventory.add_project("legacy-app", server="gone-host")
    await dflow.inventory.add_environment("legacy-app", "prod")
    await dflow.inventory.add_service("legacy-app/prod/db", "postgres")
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot, "legacy-app/prod/db", downs=5)
        await pilot.press("b")
        await wait_until(pilot, lambda: [s for _, s in statuses(app)] == ["failed"], "the row to fail")
        await wait_until(pilot, lambda: any(n[0] == "error" for n in notes), "an error notification")
        assert any(f"Cannot reach 127.0.0.1:{port}" in n[2] for n in notes)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, BackupDetailScreen), "the detail")
        error = str(app.screen.query_one(".detail-error").render())
        assert f"Cannot reach 127.0.0.1:{port}: connection refused" in error
        assert app.is_running


async def test_restore_into_another_service_by_keyboard(demo, dflow):
    import sqlite3

    from dflow_tui.demo.sandbox import seed_database
    from dflow_tui.ui.screens.confirm import RestoreIntoScreen

    copy = demo.root / "databases" / "shop-copy.sqlite"
    seed_database(copy)
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE orders SET customer = 'Mallory'")
    target = "demo/production/shop-copy"
    await dflow.inventory.add_service(target, "postgres")
    await dflow.inventory.add_service("demo/production/cache", "redis")  # another engine: not offered
    backup = await dflow.backups.create(demo.service)
    app = make_app(demo, dflow)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot, downs=4)  # past the cache and shop-copy services
        await wait_until(pilot, lambda: statuses(app) == [(backup.id, "succeeded")], "the backup row")
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreIntoScreen), "the modal")
        modal = app.screen
        assert modal.targets == [target]
        message = str(modal.query_one(".dialog-message").render())
        assert f"into the live database {target}" in message and f"{demo.service} is not touched" in message
        await pilot.press("tab", "tab", *demo.service)  # the source's path does not confirm
        assert modal.query_one("#confirm").disabled
        modal.query_one("#confirm-name").value = ""
        await pilot.press(*target)
        assert not modal.query_one("#confirm").disabled
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(n[1] == "Restore done" for n in notes), "the restore", 30)
    with sqlite3.connect(copy) as connection:
        assert [r[0] for r in connection.execute("SELECT customer FROM orders ORDER BY id")] == [
            "Ada",
            "Grace",
            "Linus",
        ]
    assert demo.customers() == ["Ada", "Grace", "Linus"]  # the source, untouched
    [safety] = await dflow.backups.list(target)  # the target's data was kept first
    assert safety.trigger == "safety"
