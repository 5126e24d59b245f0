"""A bad, unreachable or unsupported state database URL: one `Error:` line, exit 1, nothing created.

Run as a user runs it: `dflow-tui` in a process of its own, the URL from --db or DFLOW_TUI_DB.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from infra.ports import free_port


def dflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dflow_tui", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def refused_in_one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: ")
    return line


@pytest.fixture
def data_dir(tmp_path: Path) -> dict[str, str]:
    """No --db: the default state would live here (and DFLOW_TUI_DB is not inherited)."""
    return {"DFLOW_TUI_DATA_DIR": str(tmp_path / "data"), "DFLOW_TUI_DB": ""}


def test_not_a_url(data_dir):
    line = refused_in_one_line(dflow("--db", "notaurl", "backup", "list", env=data_dir))
    assert "State database URL 'notaurl' is not a URL: use sqlite+aiosqlite:///" in line


def test_an_unsupported_database_names_the_ones_that_work(data_dir):
    line = refused_in_one_line(
        dflow("--db", "mysql://app:s3cret@db.example.com/x", "server", "list", env=data_dir)
    )
    assert "mysql is not supported; dflow-tui keeps its state in SQLite or PostgreSQL" in line
    assert "s3cret" not in line and "app:***@db.example.com" in line


def test_a_postgresql_server_that_is_not_there(data_dir):
    port = free_port()
    url = f"postgresql://dflow:s3cret@127.0.0.1:{port}/dflow"
    line = refused_in_one_line(dflow("backup", "list", env={**data_dir, "DFLOW_TUI_DB": url}))
    assert f"Cannot open the state database postgresql+asyncpg://dflow:***@127.0.0.1:{port}/dflow:" in line
    assert "s3cret" not in line


def test_a_file_that_is_not_a_database(data_dir, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("groceries\n")
    line = refused_in_one_line(dflow("--db", f"sqlite:///{notes}", "backup", "list", env=data_dir))
    assert line == f"Error: Cannot open the state database {notes}: it is not a SQLite database"
    assert notes.read_text() == "groceries\n"


def test_a_mistyped_directory_does_not_start_a_new_state(data_dir, tmp_path):
    mistyped = tmp_path / "dflwo" / "state.db"
    line = refused_in_one_line(
        dflow("--db", f"sqlite+aiosqlite:///{mistyped}", "server", "list", env=data_dir)
    )
    assert f"the directory {mistyped.parent} does not exist" in line
    assert not mistyped.parent.exists()


def test_the_default_state_is_created_on_first_run(data_dir, tmp_path):
    done = dflow("server", "list", "--json", env=data_dir)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr
    assert (tmp_path / "data" / "state.db").exists()
