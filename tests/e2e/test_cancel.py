"""Cancelling a running job, against real sshd + PostgreSQL.

A table lock held by another session makes pg_dump (and pg_restore's DROP) wait:
a job stopped midway, for real, for as long as the test needs."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time

import pytest

from dflow_tui.core.errors import Conflict, NotAllowed
from dflow_tui.service import Dflow
from dflow_tui.service.api import current_login


def _wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


async def _until(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := await condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


def _pg_dump_running(db: str) -> bool:
    return subprocess.run(["pgrep", "-f", f"pg_dump.*{db}"], capture_output=True).returncode == 0


def _table(postgres, db: str) -> list[str]:
    return postgres.psql("SELECT v FROM t ORDER BY v", db=db).split()


def test_a_backup_run_by_the_headless_worker_is_cancelled_from_the_cli(
    cli, service_path, postgres, postgres_db, backup_dir
):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    with postgres.table_locked(postgres_db):
        cli("schedule", "set", service_path, "--tier", "hourly")
        worker = cli.spawn("worker", "--interval", "3600", "--heartbeat", "0.5")
        try:
            _wait_for(lambda: list(backup_dir.glob("*.partial")), "the export to start")
            [row] = cli.json("backup", "list", service_path)
            said = cli("backup", "cancel", str(row["id"])).stdout
            assert f"Backup {row['id']} stops" in said
            row = _wait_for(
                lambda: next(
                    (r for r in cli.json("backup", "list", service_path) if r["status"] != "in-progress"),
                    None,
                ),
                "the backup to stop",
                timeout=20,
            )
            assert (row["status"], row["error"]) == ("failed", f"Cancelled by {current_login()}")
            assert list(backup_dir.iterdir()) == []  # the partial dump is gone
            _wait_for(lambda: not _pg_dump_running(postgres_db), "the export on the server to be killed", 10)
        finally:
            worker.send_signal(signal.SIGTERM)
            _out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    entries = [e for e in cli.json("audit") if e["action"] == "backup.cancel"]
    assert [(e["actor"], e["result"], e["target"]) for e in entries] == [
        (current_login(), "succeeded", f"backup {row['id']}")
    ]


def test_a_backup_running_in_this_process_stops_at_once(cli, service_path, postgres, postgres_db, backup_dir):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)

    async def scenario():
        app = await cli.open_app(heartbeat_interval=60.0)  # no beat would come in time by itself
        try:
            backup = await app.backups.create(service_path, wait=False)
            await _until(lambda: _async(list(backup_dir.glob("*.partial"))), "the export to start")
            began = time.monotonic()
            await app.backups.cancel(backup.id)
            await asyncio.wait_for(app.worker.idle(), timeout=20)
            return await app.backups.get(backup.id), time.monotonic() - began
        finally:
            await app.close()

    with postgres.table_locked(postgres_db):
        finished, took = asyncio.run(scenario())
    assert (finished.status, finished.error) == ("failed", f"Cancelled by {current_login()}")
    assert took < 10
    assert list(backup_dir.iterdir()) == []


async def _restore_held_at(app, service_path, postgres, db, *, safety_backup: bool, reached, then):
    """Backs up, changes the data, then restores while a table lock holds the restore at
    the step `reached(app, backup_id)` waits for; `then(app, backup_id)` acts there.
    Returns what `then` returned and how the restore ended."""
    backup = await app.backups.create(service_path)
    postgres.psql("INSERT INTO t VALUES (2)", db=db)
    with postgres.table_locked(db):
        restore = asyncio.create_task(app.backups.restore(backup.id, safety_backup=safety_backup))
        await _until(lambda: reached(app, backup.id), "the restore to reach the step")
        done_there = await then(app, backup.id)
    return done_there, await asyncio.wait_for(restore, timeout=60)


def test_a_restore_cancelled_before_its_import_changes_nothing(cli, service_path, postgres, postgres_db):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)

    async def scenario():
        app = await cli.open_app()
        try:  # the safety backup's pg_dump waits for the lock: the restore has not imported yet
            return await _restore_held_at(
                app,
                service_path,
                postgres,
                postgres_db,
                safety_backup=True,
                reached=lambda app, _id: _safety_backup_running(app, service_path),
                then=lambda app, backup_id: app.backups.cancel(backup_id),
            )
        finally:
            await app.close()

    said, result = asyncio.run(scenario())
    assert said.startswith("The restore of backup")
    assert (result.status, result.error) == ("failed", f"Cancelled by {current_login()}")
    assert _table(postgres, postgres_db) == ["1", "2"]  # nothing was imported


def test_a_restore_that_is_importing_cannot_be_cancelled(cli, service_path, postgres, postgres_db):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)

    async def refused(app, backup_id):
        with pytest.raises(Conflict, match="half-restored"):
            await app.backups.cancel(backup_id)

    async def scenario():
        app = await cli.open_app()
        try:  # pg_restore --clean waits for the lock to drop t: the import has started
            return await _restore_held_at(
                app,
                service_path,
                postgres,
                postgres_db,
                safety_backup=False,
                reached=_importing,
                then=refused,
            )
        finally:
            await app.close()

    _, result = asyncio.run(scenario())
    assert result.status == "succeeded", result.error
    assert _table(postgres, postgres_db) == ["1"]


def test_nothing_to_cancel_and_not_allowed_are_refused(cli, service_path, postgres, postgres_db):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    cli("backup", "create", service_path)
    [row] = cli.json("backup", "list", service_path)

    result = cli("backup", "cancel", str(row["id"]), ok=False)
    assert f"Backup {row['id']} is done and nothing runs on it" in result.output
    assert "No backup with id 999" in cli("backup", "cancel", "999", ok=False).output


def test_a_viewer_may_not_cancel_a_running_backup(cli, service_path, postgres, postgres_db, backup_dir):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    cli("user", "add", "vera", "--role", "viewer")

    async def scenario():
        admin = await cli.open_app()
        viewer = await Dflow.open(cli.settings(), actor="vera")
        try:
            backup = await admin.backups.create(service_path, wait=False)
            await _until(lambda: _async(list(backup_dir.glob("*.partial"))), "the export to start")
            with pytest.raises(NotAllowed, match="viewer"):
                await viewer.backups.cancel(backup.id)
            still = await admin.backups.get(backup.id)
            await admin.backups.cancel(backup.id)
            await asyncio.wait_for(admin.worker.idle(), timeout=20)
            return still, await admin.backups.get(backup.id)
        finally:
            await viewer.close()
            await admin.close()

    with postgres.table_locked(postgres_db):
        still, finished = asyncio.run(scenario())
    assert still.status == "in-progress" and still.cancel_requested_by is None
    assert finished.error == f"Cancelled by {current_login()}"
    denied = [e for e in cli.json("audit") if e["action"] == "backup.cancel" and e["result"] == "refused"]
    assert [e["actor"] for e in denied] == ["vera"]


async def _async(value):
    return value


async def _safety_backup_running(app, path: str) -> bool:
    return any(b.status == "in-progress" for b in await app.backups.list(path))


async def _importing(app, backup_id: int) -> bool:
    return (await app.backups.get(backup_id)).operation_irreversible


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_foreground_backup_stopped_by_a_signal_leaves_no_job_behind(
    cli, service_path, postgres, postgres_db, backup_dir, signum
):
    """`kill`, a dropped SSH session (SIGHUP) and Ctrl-C stop `backup create` the same way:
    the row is failed at once, the partial dump and the export on the server are gone."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    with postgres.table_locked(postgres_db):
        create = cli.spawn("backup", "create", service_path)
        try:
            _wait_for(lambda: list(backup_dir.glob("*.partial")), "the export to start")
            create.send_signal(signum)
            _out, err = create.communicate(timeout=30)
        finally:
            create.kill()
    assert create.returncode == 1
    assert "Traceback" not in err and "Aborted!" not in err
    assert err.splitlines()[-1] == ("Cancelled" if signum == signal.SIGINT else f"Cancelled ({signum.name})")
    [row] = cli.json("backup", "list", service_path)
    reason = "Cancelled before it finished" if signum == signal.SIGINT else f"Stopped by {signum.name}"
    assert (row["status"], row["error"]) == ("failed", reason)
    assert list(backup_dir.iterdir()) == []
    _wait_for(lambda: not _pg_dump_running(postgres_db), "the export on the server to be killed", 10)
    assert cli("doctor").stderr.strip() == "" and "consistent" in cli("doctor").stdout


def _killed_mid_export(cli, service_path, postgres, postgres_db, backup_dir) -> tuple[dict, int]:
    """`backup create` killed with SIGKILL while the export runs: nothing of it could clean up."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    with postgres.table_locked(postgres_db):
        create = cli.spawn("backup", "create", service_path)
        try:
            _wait_for(lambda: list(backup_dir.glob("*.partial")), "the export to start")
        finally:
            create.kill()
            create.communicate(timeout=30)
    [row] = cli.json("backup", "list", service_path)
    assert row["status"] == "in-progress"  # nobody has looked yet
    return row, create.pid


def test_a_killed_cli_backup_is_seen_dead_by_its_next_observer(
    cli, service_path, postgres, postgres_db, backup_dir
):
    row, pid = _killed_mid_export(cli, service_path, postgres, postgres_db, backup_dir)
    owner = f"The CLI on {socket.gethostname()}:{pid}"

    doctor = cli("doctor", ok=False)
    assert f"stale-job        backup {row['id']}: {owner} is no longer running (killed?)" in doctor.stdout

    said = cli("backup", "cancel", str(row["id"])).stdout
    assert said.startswith(f"Backup {row['id']} was not running any more: {owner} is no longer running")
    [row] = cli.json("backup", "list", service_path)
    assert (row["status"], row["error"]) == (
        "failed",
        f"{owner} is no longer running (killed?): marked failed",
    )
    assert list(backup_dir.iterdir()) == []
    _wait_for(lambda: not _pg_dump_running(postgres_db), "the export on the server to end", 10)
    assert "consistent" in cli("doctor").stdout


def test_a_new_backup_is_not_held_back_by_a_killed_one(cli, service_path, postgres, postgres_db, backup_dir):
    killed, _pid = _killed_mid_export(cli, service_path, postgres, postgres_db, backup_dir)
    new_id = int(cli("backup", "create", service_path).stdout)
    rows = {r["id"]: r for r in cli.json("backup", "list", service_path)}
    assert (rows[killed["id"]]["status"], rows[new_id]["status"]) == ("failed", "succeeded")
    assert [p.suffix for p in backup_dir.iterdir()] == [".dump"]


def test_cancelling_a_backup_no_worker_has_taken_cancels_it_now(cli, service_path):
    cli("schedule", "set", service_path, "--tier", "daily")  # queued; no worker runs
    [queued] = json.loads(cli.process("backup", "list", service_path, "--json").stdout)
    assert queued["queued"] is True
    said = cli.process("backup", "cancel", str(queued["id"])).stdout
    assert said.strip() == f"Backup {queued['id']} had not started (no worker had taken it): it is cancelled."
    [row] = cli.json("backup", "list", service_path)
    assert (row["status"], row["error"]) == ("failed", f"Cancelled by {current_login()} before it started")


def test_a_backup_copy_cancelled_midway_leaves_nothing_where_it_was_going(
    cli, service_path, postgres, postgres_db, moto_s3, backup_dir, memory_keyring, monkeypatch
):
    """The copy's writes onto the server stall after the first chunk (a stalled network: the
    one thing simulated here); `backup cancel` stops it and its partial file is removed."""
    from dflow_tui.core.errors import DflowError
    from dflow_tui.jobs import copy_backup

    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    moto_s3.make_bucket("dflow-cancel-copy", versioned=True)
    cli.add_provider("s3", moto_s3, "dflow-cancel-copy")
    cli("storage", "verify", "s3")
    cli("destination", "set", service_path, "external", "--provider", "s3")
    backup_id = int(cli("backup", "create", service_path).stdout)
    stalled = asyncio.Event()
    write = copy_backup._ToServer.write

    async def stalling_write(self, chunks):
        async def first_chunk_then_stall():
            async for chunk in chunks:
                yield chunk
                stalled.set()
                await asyncio.Event().wait()

        return await write(self, first_chunk_then_stall())

    monkeypatch.setattr(copy_backup._ToServer, "write", stalling_write)

    async def scenario():
        app = await cli.open_app()
        try:
            copying = asyncio.create_task(app.backups.copy(backup_id, "internal"))
            await asyncio.wait_for(stalled.wait(), timeout=30)
            await _until(lambda: _async(list(backup_dir.glob("*.partial"))), "the partial file")
            said = await app.backups.cancel(backup_id)
            with pytest.raises(DflowError) as stopped:
                await asyncio.wait_for(copying, timeout=30)
            return said, str(stopped.value)
        finally:
            await app.close()

    said, error = asyncio.run(scenario())
    monkeypatch.undo()  # the network is back
    assert said.startswith(f"The copy of backup {backup_id}")
    assert error == f"Cancelled by {current_login()}"
    assert list(backup_dir.iterdir()) == []  # the partial file is gone
    [row] = cli.json("backup", "list", service_path)
    assert row["copies"] == [] and not row["degraded"]
    # Nothing runs on it any more: a copy may be asked for again.
    assert cli("backup", "copy", str(backup_id), "--to", "internal").stdout.startswith("Copied")


async def _async(value):
    return value
