"""What a member or viewer sees: actions they may not do are disabled and say why;
and the Activity screen (the audit log)."""

from __future__ import annotations

import contextlib

import pytest
from textual.widgets import Button
from tui_support import (
    ACTOR,
    SIZE,
    open_service,
    record_notifications,
    screen_text,
    wait_until,
)

from dflow_tui.service import Dflow
from dflow_tui.ui.app import DflowApp
from dflow_tui.ui.screens.activity import ActivityScreen
from dflow_tui.ui.screens.backup_storage import BackupStorageScreen
from dflow_tui.ui.screens.confirm import RestoreConfirmScreen
from dflow_tui.ui.screens.schedule import ScheduleScreen
from dflow_tui.ui.screens.servers import ServersScreen


@pytest.fixture
async def as_user(demo, dflow, clock):
    """Opens the service layer as another login with `role`; closed after the test."""
    opened: list[Dflow] = []

    async def open_as(login: str, role: str) -> Dflow:
        await dflow.users.add(login, role)
        api = await Dflow.open(demo.settings, clock=clock, actor=login)
        opened.append(api)
        return api

    yield open_as
    for api in opened:
        await api.close()


async def test_a_viewer_sees_disabled_actions_and_reads_why(demo, dflow, as_user):
    backup = await dflow.backups.create(demo.service)
    bob = await as_user("bob", "viewer")
    app = DflowApp(demo.settings, dflow=bob, actor="bob", scheduler=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: len(app.table.backups) == 1, "the backup row")
        assert "bob (viewer)" in app.sub_title
        for button in ("#create-backup", "#restore", "#delete", "#edit-schedule"):
            assert app.query_one(button, Button).disabled, button
        tooltip = str(app.query_one("#restore", Button).tooltip)
        assert "bob (viewer) may not restore backups" in tooltip
        await pilot.press("enter", "r")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, RestoreConfirmScreen)
        await pilot.press("b", "c")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ScheduleScreen)
        reasons = [message for severity, title, message in notes if title == "Not allowed"]
        assert reasons == [
            "bob (viewer) may not restore backups: that needs the backups.restore permission",
            "bob (viewer) may not create backups: that needs the backups.create permission",
            "bob (viewer) may not change backup schedules: that needs the backups.schedule permission",
        ]
    assert [b.id for b in await dflow.backups.list(demo.service)] == [backup.id]


async def test_a_member_may_create_but_not_delete(demo, dflow, as_user):
    await dflow.backups.create(demo.service)
    carol = await as_user("carol", "member")
    app = DflowApp(demo.settings, dflow=carol, actor="carol", scheduler=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await open_service(pilot)
        await wait_until(pilot, lambda: len(app.table.backups) == 1, "the backup row")
        assert not app.query_one("#create-backup", Button).disabled
        assert app.query_one("#delete", Button).disabled
        await pilot.press("enter", "d")
        await pilot.pause(0.1)
        assert any("carol (member) may not delete backups" in n[2] for n in notes)
        await pilot.press("b")
        await wait_until(pilot, lambda: len(app.table.backups) == 2, "the new backup")


async def test_activity_lists_the_audit_log_and_filters_to_the_service(demo, dflow, as_user):
    await dflow.backups.create(demo.service)
    await dflow.inventory.add_project("lab")
    bob = await as_user("bob", "viewer")
    with contextlib.suppress(Exception):  # denied, and recorded as such
        await bob.backups.create(demo.service)
    app = DflowApp(demo.settings, dflow=dflow, actor=ACTOR, scheduler=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_service(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen), "the Activity screen")
        screen = app.screen
        await wait_until(pilot, lambda: screen.entries is not None, "the entries")
        actions = [(e.actor, e.action, e.result) for e in screen.entries]
        assert ("bob", "backup.create", "refused") in actions
        assert (ACTOR, "backup.create", "succeeded") in actions
        assert all(e.service_path == demo.service for e in screen.entries)
        assert "Activity of " + demo.service in screen_text(app)
        await pilot.press("f")
        await wait_until(
            pilot,
            lambda: any(e.action == "project.add" or e.service_path is None for e in screen.entries),
            "everything",
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ActivityScreen), "back")


async def test_a_member_sees_servers_and_storage_actions_disabled_and_reads_why(demo, dflow, as_user):
    carol = await as_user("carol", "member")
    app = DflowApp(demo.settings, dflow=carol, actor="carol", scheduler=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await wait_until(pilot, lambda: app.services is not None, "the services")

        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ServersScreen), "the Servers screen")
        servers = app.screen
        await wait_until(pilot, lambda: servers.servers is not None, "the servers")
        for button in ("#add-server", "#discover"):
            assert servers.query_one(button, Button).disabled, button
        assert "carol (member) may not manage servers" in str(
            servers.query_one("#add-server", Button).tooltip
        )
        assert not servers.query_one("#check-server", Button).disabled  # reading is enough to check
        await pilot.press("n", "i")
        await pilot.pause(0.1)
        assert app.screen is servers  # no form opened
        await pilot.press("c")  # a member may check a connection
        await wait_until(pilot, lambda: "Connected." in screen_text(app), "the check")
        await pilot.press("escape")

        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, BackupStorageScreen), "Backup Storage")
        storage = app.screen
        await wait_until(pilot, lambda: storage.providers is not None, "the providers")
        assert storage.query_one("#add-provider", Button).disabled
        assert "carol (member) may not manage Backup Storage" in str(
            storage.query_one("#add-provider", Button).tooltip
        )
        await pilot.press("a")
        await pilot.pause(0.1)
        assert app.screen is storage
    reasons = [message for _, title, message in notes if title == "Not allowed"]
    assert reasons == [
        "carol (member) may not manage servers, projects and services: that needs the inventory.manage permission",
        "carol (member) may not manage servers, projects and services: that needs the inventory.manage permission",
        "carol (member) may not manage Backup Storage: that needs the integrations.backup_storage permission",
    ]
    assert await dflow.storage.list() == []
