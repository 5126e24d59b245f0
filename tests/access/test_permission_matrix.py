"""Each role × each action, through the service layer and the CLI: allowed or refused as the table says."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from infra.sandbox import make_sandbox

from dflow_tui.cli import main
from dflow_tui.core.errors import NotAllowed
from dflow_tui.core.permissions import ROLE_PERMISSIONS, Permission, Role
from dflow_tui.demo.sandbox import DEMO_SERVICE
from dflow_tui.service import Dflow
from dflow_tui.service.api import current_login
from dflow_tui.settings import Settings

ROLES = ["admin", "member", "viewer"]


@dataclass
class State:
    settings: Settings
    first_backup: int

    @property
    def db_url(self) -> str:
        return self.settings.db_url


@pytest.fixture
def state(tmp_path, monkeypatch, memory_keyring) -> State:
    """The demo sandbox (its first user is the OS login: admin) plus one user per role."""
    settings = make_sandbox(tmp_path / "sandbox", monkeypatch)

    async def arrange():
        app = await Dflow.open(settings)
        for role in ROLES:
            await app.users.add(f"{role}1", role)
        first = await app.backups.create(DEMO_SERVICE)
        await app.close()
        return first.id

    return State(settings, asyncio.run(arrange()))


# (permission, how to call it on the service layer, the CLI words)
def actions(backup_id: int):
    return [
        (Permission.READ, lambda a: a.backups.list(DEMO_SERVICE), ["backup", "list", DEMO_SERVICE]),
        (
            Permission.CREATE,
            lambda a: a.backups.create(DEMO_SERVICE),
            ["backup", "create", DEMO_SERVICE],
        ),
        (
            Permission.RESTORE,
            lambda a: a.backups.restore(backup_id, safety_backup=False),
            ["backup", "restore", str(backup_id), "--yes", "--no-safety-backup"],
        ),
        (
            Permission.SCHEDULE,
            lambda a: a.schedules.set(DEMO_SERVICE, ["weekly"]),
            ["schedule", "set", DEMO_SERVICE, "--tier", "weekly"],
        ),
        (
            Permission.DESTINATION,
            lambda a: a.destinations.set(DEMO_SERVICE, "internal"),
            ["destination", "set", DEMO_SERVICE, "internal"],
        ),
        (
            Permission.STORAGE,
            lambda a: a.storage.add(
                "s3",
                endpoint_url="http://127.0.0.1:9",
                region="us-east-1",
                bucket="bucket-b",
                access_key_id="AKIA",
                secret_access_key="secret-value",
            ),
            [
                "storage",
                "add",
                "s3",
                "--endpoint",
                "http://127.0.0.1:9",
                "--region",
                "us-east-1",
                "--bucket",
                "bucket-b",
                "--access-key",
                "AKIA",
            ],
        ),
        (Permission.INVENTORY, lambda a: a.inventory.add_project("other"), ["project", "add", "other"]),
        (
            Permission.INVENTORY,
            lambda a: a.inventory.set_max_jobs("this-machine", 3),
            ["server", "edit", "this-machine", "--max-jobs", "3"],
        ),
        (
            Permission.USERS,
            lambda a: a.users.add("newcomer", "viewer"),
            ["user", "add", "newcomer", "--role", "viewer"],
        ),
        (
            Permission.DELETE,
            lambda a: a.backups.delete(backup_id),
            ["backup", "delete", str(backup_id), "--yes"],
        ),
    ]


def expected(role: str | None, permission: Permission) -> bool:
    return role is not None and permission in ROLE_PERMISSIONS[Role(role)]


@pytest.mark.parametrize("role", [*ROLES, None])
async def test_service_layer(state, role):
    login = f"{role}1" if role else "stranger"
    app = await Dflow.open(state.settings, actor=login)
    try:
        for permission, call, _words in actions(state.first_backup):
            try:
                await call(app)
                refused = None
            except NotAllowed as error:
                refused = str(error)
            if expected(role, permission):
                assert refused is None or "may not" not in refused, (role, permission, refused)
            else:
                assert refused is not None, (role, permission)
                assert ("may not" in refused) if role else ("not known" in refused)
    finally:
        await app.close()
    admin = await Dflow.open(state.settings)
    try:
        denied = [e for e in await admin.audit.list() if e.actor == login and e.result == "refused"]
    finally:
        await admin.close()
    assert len(denied) == sum(not expected(role, p) for p, *_ in actions(0))


@pytest.mark.parametrize("role", [*ROLES, None])
def test_cli(state, role, monkeypatch):
    login = f"{role}1" if role else "stranger"
    act_as(monkeypatch, login)
    env = {"DFLOW_TUI_DB": state.db_url}
    for permission, _call, words in actions(state.first_backup):
        result = CliRunner().invoke(main, words, env=env, input="secret-value\n")
        if expected(role, permission):
            assert "may not" not in result.output, (role, permission, result.output)
            assert result.exit_code == 0 or permission is Permission.STORAGE, (role, words, result.output)
        else:
            assert result.exit_code == 1, (role, words, result.output)
            assert ("may not" if role else "not known") in result.stderr


def test_the_first_user_is_admin_and_the_last_admin_stays(tmp_path):
    async def scenario():
        settings = Settings(db_url=f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
        app = await Dflow.open(settings, actor="founder")
        users = await app.users.list()
        with pytest.raises(Exception, match="last admin"):
            await app.users.remove("founder")
        await app.users.add("second", "admin")
        await app.users.remove("founder")
        await app.close()
        return users

    [founder] = asyncio.run(scenario())
    assert (founder.login, founder.role) == ("founder", "admin")


def act_as(monkeypatch, login: str) -> None:
    """The CLI in this process acts as `login` (the acting user is the OS account otherwise)."""
    monkeypatch.setattr("dflow_tui.service.api.current_login", lambda: login)


def test_audit_lists_every_action_with_its_actor(state, monkeypatch):
    env = {"DFLOW_TUI_DB": state.db_url}
    runner = CliRunner()
    runner.invoke(
        main, ["backup", "restore", str(state.first_backup), "--yes", "--no-safety-backup"], env=env
    )
    runner.invoke(main, ["schedule", "set", DEMO_SERVICE, "--tier", "daily"], env=env)
    with monkeypatch.context() as viewer:
        act_as(viewer, "viewer1")
        runner.invoke(main, ["backup", "delete", str(state.first_backup), "--yes"], env=env)
    entries = json.loads(runner.invoke(main, ["audit", "--json"], env=env).stdout)
    seen = [(e["actor"], e["action"], e["result"]) for e in entries]
    me = current_login()
    assert (me, "backup.restore", "succeeded") in seen
    assert (me, "schedule.set", "succeeded") in seen
    assert ("viewer1", "backup.delete", "refused") in seen
    assert (me, "user.add", "succeeded") in seen
    only_service = json.loads(
        runner.invoke(main, ["audit", "--service", DEMO_SERVICE, "--json"], env=env).stdout
    )
    assert {e["service_path"] for e in only_service} == {DEMO_SERVICE}
