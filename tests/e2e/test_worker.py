"""The headless worker against real sshd + PostgreSQL, run as its own process."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from datetime import timedelta
from pathlib import Path

from dflow_tui.core.clock import FixedClock
from dflow_tui.jobs.scheduler import run_pass


def test_worker_once_runs_due_backups_and_prunes(cli, service_path, postgres, postgres_db, backup_dir):
    postgres.psql("CREATE TABLE t (v int)", db=postgres_db)
    ids = [int(cli("backup", "create", service_path).stdout) for _ in range(7)]
    cli.age_into_daily_backups(ids)
    oldest = cli.json("backup", "list", service_path)[-1]
    saved = cli("schedule", "set", service_path, "--tier", "daily")  # queued, not run: no worker yet
    assert "Queued daily backup" in saved.stdout
    # As a user runs them, in processes of their own:
    waiting = json.loads(cli.process("backup", "list", service_path, "--json").stdout)[0]
    assert (waiting["status"], waiting["queued"], waiting["trigger"]) == ("in-progress", True, "scheduled")
    listed = cli.process("backup", "list", service_path).stdout.splitlines()
    [line] = [row for row in listed if "queued" in row]
    assert line.split()[0] == str(waiting["id"]) and "scheduled (daily)  in-progress (queued)" in line
    shown = cli.process("schedule", "show", service_path)
    assert "Warning: Schedules are set but no worker or open app has ever run" in shown.stderr
    as_json = json.loads(cli.process("schedule", "show", service_path, "--json").stdout)
    assert (as_json["tiers"], as_json["active"]) == (["daily"], True)
    assert as_json["warning"].startswith("Schedules are set but no worker")

    worker = cli.spawn("worker", "--once")
    _out, err = worker.communicate(timeout=120)

    assert worker.returncode == 0, err
    assert "succeeded" in err
    assert cli("schedule", "show", service_path).stderr == ""  # a worker has run: nothing waits
    assert cli.json("schedule", "show", service_path)["warning"] is None
    rows = cli.json("backup", "list", service_path)
    assert len(rows) == 7
    assert [r["schedule_tier"] for r in rows] == ["daily"] * 7
    assert rows[0]["status"] == "succeeded" and rows[0]["requested_by"] == "scheduler"
    assert oldest["id"] not in [r["id"] for r in rows]
    on_disk = sorted(p.name for p in backup_dir.glob("*.dump"))
    assert len(on_disk) == 7
    assert Path(oldest["location"]).name not in on_disk


def test_killed_worker_job_is_failed_at_the_next_pass_and_its_partial_goes(
    cli, service_path, postgres, postgres_db, backup_dir
):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    with postgres.table_locked(postgres_db):
        cli("schedule", "set", service_path, "--tier", "hourly")
        worker = cli.spawn("worker", "--once")
        deadline = time.monotonic() + 60
        while not list(backup_dir.glob("*.partial")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(backup_dir.glob("*.partial")), "the export never started"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)

    [row] = cli.json("backup", "list", service_path)
    assert row["status"] == "in-progress"  # nobody has noticed yet

    async def next_pass():
        """No waiting for the heartbeat timeout: the worker was a process on this host."""
        app = await cli.open_app()
        try:
            return await run_pass(app.ctx)
        finally:
            await app.close()

    report = asyncio.run(next_pass())

    assert [c.id for c in report.cleaned] == [row["id"]]
    [row] = cli.json("backup", "list", service_path)
    assert row["status"] == "failed"
    assert row["error"] == (
        f"The worker on {socket.gethostname()}:{worker.pid} is no longer running (killed?): marked failed"
    )
    assert list(backup_dir.iterdir()) == []
    cleanup = [e for e in cli.json("audit") if e["action"] == "job.cleanup"]
    assert [(e["actor"], e["target"], e["result"]) for e in cleanup] == [
        ("stale-cleanup", f"backup {row['id']}", "succeeded")
    ]


def test_sigterm_lets_the_running_job_finish(cli, service_path, postgres, postgres_db, backup_dir):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    cli("schedule", "set", service_path, "--tier", "hourly")
    worker = cli.spawn("worker", "--interval", "3600")
    deadline = time.monotonic() + 60
    while not list(backup_dir.glob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=90)

    assert worker.returncode == 0, err
    [row] = cli.json("backup", "list", service_path)
    assert row["status"] in ("succeeded", "failed")  # never left in progress
    assert row["status"] == "succeeded", row["error"]


def test_a_job_failed_by_stale_cleanup_stops_and_leaves_nothing(
    cli, service_path, postgres, postgres_db, backup_dir
):
    """Two runs of one job never go on side by side: the old one notices at its next heartbeat."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)

    async def scenario():
        app = await cli.open_app()
        app.settings.heartbeat_interval = 0.2
        backup = await app.backups.create(service_path, wait=False)
        while not list(backup_dir.glob("*.partial")):
            await asyncio.sleep(0.05)
        cleaner = await cli.open_app()
        cleaner.ctx.clock = FixedClock(app.clock.now() + timedelta(hours=3))
        cleaner.ctx.worker_id = "cleaner"
        # A pass that reads the row just before a heartbeat lands leaves it alone (the job is
        # alive after all); the next one, on the same late clock, fails it.
        report = await run_pass(cleaner.ctx)
        deadline = time.monotonic() + 30
        while not report.cleaned and time.monotonic() < deadline:
            report = await run_pass(cleaner.ctx)
        await asyncio.wait_for(app.worker.idle(), timeout=30)
        finished = await app.backups.get(backup.id)
        await cleaner.close()
        await app.close()
        return report, finished

    with postgres.table_locked(postgres_db):
        report, finished = asyncio.run(scenario())

    assert len(report.cleaned) == 1
    assert finished.status == "failed" and "stopped sending heartbeats" in finished.error
    assert list(backup_dir.iterdir()) == []
