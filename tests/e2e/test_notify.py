"""`dflow-tui notify …` as processes, and a worker process telling a real webhook receiver
of a backup that failed over the real sshd (and of its recovery), with the URL kept in a
keyring the processes share."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import pytest
from infra.file_keyring import BACKEND, FILE_ENV, FileKeyring
from infra.receiver import HttpReceiver

TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture
def shared_keyring(cli, tmp_path, monkeypatch):
    """One keyring file for this test's processes and its in-process CLI calls."""
    monkeypatch.setenv(FILE_ENV, str(tmp_path / "keyring.json"))
    cli.env.update(
        {
            "PYTHON_KEYRING_BACKEND": BACKEND,
            FILE_ENV: str(tmp_path / "keyring.json"),
            "PYTHONPATH": str(TESTS),
        }
    )
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    yield tmp_path / "keyring.json"
    keyring.set_keyring(previous)


@pytest.fixture
def receiver():
    with HttpReceiver() as server:
        yield server


def titles(receiver: HttpReceiver) -> list[str]:
    return [json.loads(body)["title"] for _method, _path, body in receiver.requests]


def test_a_worker_tells_of_a_failed_backup_once_and_of_its_recovery(
    cli, service_path, postgres, postgres_db, shared_keyring, receiver
):
    url = receiver.url.replace("http://", "json://") + "/hooks/T0KEN-41"
    added = cli.process("notify", "add", "ops", input=url + "\n")
    assert (
        added.stdout.strip()
        == "Added notifier ops (failure, late, recovered); try it: dflow-tui notify test ops"
    )
    assert "T0KEN" not in json.dumps(cli.json("notify", "list", "--json"))  # the URL is never shown
    assert "T0KEN" in shared_keyring.read_text()

    cli("schedule", "set", service_path, "--tier", "hourly")
    postgres.drop_database(postgres_db)  # the scheduled export fails on the server
    assert cli.spawn("worker", "--once").wait(timeout=120) == 0
    cli.process("backup", "create", service_path, ok=False)  # the same streak: nothing new
    assert titles(receiver) == [f"Backup failed: {service_path}"]
    assert receiver.paths() == ["/hooks/T0KEN-41"]
    body = json.loads(receiver.requests[0][2])["message"]
    assert "does not exist" in body and "Last successful backup: never" in body

    postgres.create_database(postgres_db)
    cli.process("backup", "create", service_path)
    assert titles(receiver)[1:] == [f"Backups recovered: {service_path}"]
    [ops] = cli.json("notify", "list", "--json")
    assert (ops["name"], ops["pending"], ops["failing"]) == ("ops", 0, 0) and ops["last_sent"]


def test_notify_add_on_a_terminal_hides_the_url_and_bad_input_is_one_line(cli, shared_keyring, receiver):
    url = receiver.url.replace("http://", "json://") + "/T0KEN-77"
    typed = cli.process(
        "notify", "add", "team", "--on", "restore,delete", input=url + "\n", terminal=True, after="(hidden): "
    )
    assert "T0KEN" not in typed.output + typed.terminal and "apprise URL (hidden)" in typed.terminal
    tested = cli.process("notify", "test", "team")
    assert tested.stdout.strip() == "Test message delivered through team" and len(receiver.requests) == 1

    receiver.status = 500
    failed = cli.process("notify", "test", "team", ok=False)
    assert failed.exit_code == 1 and len(failed.stderr.splitlines()) == 1
    assert failed.stderr.startswith("Error: The test message to 'team' was not delivered: ")
    assert "T0KEN" not in failed.stderr

    unknown = cli.process("notify", "add", "x", "--on", "failure,often", input=url + "\n", ok=False)
    assert unknown.stderr.splitlines() == [
        "Error: Unknown event 'often': choose among delete, drill, failure, late, recovered, restore"
    ]
    nonsense = cli.process("notify", "add", "x", input="not a url\n", ok=False)
    assert len(nonsense.stderr.splitlines()) == 1 and "apprise does not understand" in nonsense.stderr
    assert cli.process("notify", "test", "nobody", ok=False).stderr.splitlines() == [
        "Error: No notifier named 'nobody' (see `dflow-tui notify list`)"
    ]
    cli.process("notify", "remove", "team")
    assert cli.process("notify", "list").stdout.startswith("No notifiers.")
    assert "T0KEN" not in shared_keyring.read_text()
