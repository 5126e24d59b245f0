"""Upgrading the state database never loses records."""

from __future__ import annotations

import sqlite3

import pytest
from alembic import command

from dflow_tui.core.errors import DflowError
from dflow_tui.service import Dflow
from dflow_tui.settings import Settings
from dflow_tui.store.db import alembic_config


async def test_a_first_release_database_upgrades_with_its_rows(tmp_path):
    path = tmp_path / "state.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "0001")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO servers (id, name, local, port, backup_dir) VALUES (1, 'old', 1, 22, 'b')")
        db.execute("INSERT INTO projects (id, name, server_id, legacy) VALUES (1, 'p', 1, 0)")
        db.execute("INSERT INTO environments (id, project_id, name) VALUES (1, 1, 'e')")
        db.execute(
            "INSERT INTO services (id, environment_id, name, engine, destination) VALUES (1, 1, 'db', 'postgres', 'internal')"
        )
        db.execute(
            "INSERT INTO backups (id, service_id, type, status, trigger, server_id, file_path, size_bytes, sha256)"
            " VALUES (7, 1, 'internal', 'success', 'manual', 1, 'b/db-2026-01-01-00-00-00-000.dump', 42, 'ab')"
        )

    app = await Dflow.open(Settings(db_url=f"sqlite+aiosqlite:///{path}"))
    try:
        [backup] = await app.backups.list("p/e/db")
        [service] = await app.inventory.list_services()
    finally:
        await app.close()

    assert (backup.id, backup.size_bytes, backup.location) == (7, 42, "b/db-2026-01-01-00-00-00-000.dump")
    assert backup.status == "succeeded"  # written `success` by the first release
    assert service.path == "p/e/db" and service.server == "old"


async def test_a_new_state_in_the_default_data_dir_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("DFLOW_TUI_DATA_DIR", str(tmp_path / "new"))
    monkeypatch.delenv("DFLOW_TUI_DB", raising=False)
    app = await Dflow.open(Settings())
    await app.close()
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "new" / "state.db").stat().st_mode & 0o777 == 0o600


async def test_an_existing_state_made_readable_by_others_is_made_private_again(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("DFLOW_TUI_DATA_DIR", str(tmp_path / "old"))
    monkeypatch.delenv("DFLOW_TUI_DB", raising=False)
    app = await Dflow.open(Settings())
    await app.inventory.add_project("p")  # the WAL files exist now
    await app.close()
    (tmp_path / "old").chmod(0o755)
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        if (tmp_path / "old" / name).exists():
            (tmp_path / "old" / name).chmod(0o644)
    app = await Dflow.open(Settings())
    try:
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            if (tmp_path / "old" / name).exists():
                assert (tmp_path / "old" / name).stat().st_mode & 0o777 == 0o600, name
        assert (tmp_path / "old").stat().st_mode & 0o777 == 0o700
        assert "state.db was readable or writable by others (644); now 600" in caplog.text
    finally:
        await app.close()


async def test_a_state_file_in_a_directory_the_user_chose_leaves_that_directory_as_it_is(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    app = await Dflow.open(Settings(db_url=f"sqlite+aiosqlite:///{shared / 'state.db'}"))
    await app.close()
    assert shared.stat().st_mode & 0o777 == 0o755
    assert (shared / "state.db").stat().st_mode & 0o777 == 0o600


async def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(tmp_path):
    other = tmp_path / "etc"
    other.mkdir()
    other.chmod(0o755)
    notes = other / "notes.txt"
    notes.write_text("not a database\n")
    notes.chmod(0o644)
    with pytest.raises(DflowError, match=r"notes\.txt: it is not a SQLite database"):
        await Dflow.open(Settings(db_url=f"sqlite+aiosqlite:///{notes}"))
    assert (other.stat().st_mode & 0o777, notes.stat().st_mode & 0o777) == (0o755, 0o644)
    assert notes.read_text() == "not a database\n"
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_the_head_the_app_checks_at_open_is_the_newest_migration():
    from alembic.script import ScriptDirectory

    from dflow_tui.store.db import HEAD_REVISION

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION
