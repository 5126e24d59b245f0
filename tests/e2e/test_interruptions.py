"""Every flow killed before each of its steps: afterwards records, server and bucket agree.

The flow runs in its own process, which dies (no cleanup code runs) before step N
for N = 0, 1, 2… until the flow gets through. After each death, the next
scheduler pass (on a clock past the heartbeat timeout) cleans up, and
`dflow-tui doctor` must find everything consistent.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from datetime import timedelta

import pytest
from crash_harness import CRASHED, run_and_crash
from infra.ports import free_port
from sqlmodel import select

from dflow_tui.core.clock import FixedClock
from dflow_tui.jobs.scheduler import run_pass
from dflow_tui.store.tables import Server

BUCKET = "dflow-crash-tests"
MAX_STEPS = 40


# Children are forked from a fork server: they start with everything imported, in
# milliseconds, yet are not forks of this test process, whose threads (the S3 server,
# receivers) could hold a lock at the moment of a fork and leave the child hung on it.
_PROCESSES = multiprocessing.get_context("forkserver")
_PROCESSES.set_forkserver_preload(["crash_harness"])


def _harness(cli, flow: str, arg: str, crash_before: int, keyring) -> int:
    child = _PROCESSES.Process(
        target=run_and_crash,
        args=(
            cli.env["DFLOW_TUI_DB"],
            cli.env["DFLOW_TUI_KNOWN_HOSTS"],
            flow,
            arg,
            crash_before,
            dict(keyring.store),
            dict(os.environ),
        ),
    )
    child.start()
    child.join(timeout=120)
    return child.exitcode


def _recover(cli) -> None:
    """What happens next in real life: a scheduler pass, once the dead job's heartbeat is old."""

    async def later_pass():
        app = await cli.open_app()
        app.ctx.clock = FixedClock(app.clock.now() + timedelta(hours=3))
        try:
            await run_pass(app.ctx)
        finally:
            await app.close()

    asyncio.run(later_pass())


def _assert_consistent(cli, context: str) -> None:
    result = cli("doctor", ok=None)
    assert result.exit_code == 0 and "consistent" in result.output, f"{context}:\n{result.output}"


def _crash_everywhere(cli, flow: str, arg_for_attempt, keyring) -> int:
    """Returns how many steps the flow had."""
    for crash_before in range(MAX_STEPS):
        arg = arg_for_attempt()
        exit_code = _harness(cli, flow, arg, crash_before, keyring)
        if exit_code == 0:
            _assert_consistent(cli, f"{flow} ran to its end")
            return crash_before
        assert exit_code == CRASHED, f"{flow} before step {crash_before}: exit code {exit_code}"
        _recover(cli)
        _assert_consistent(cli, f"{flow} killed before step {crash_before}")
    raise AssertionError(f"{flow} never finished within {MAX_STEPS} steps")


@pytest.fixture(params=["internal", "external", "copies"])
def destination(request, cli, service_path, postgres, postgres_db, moto_s3, memory_keyring) -> str:
    """`copies`: a bucket first, and a copy on the server's disk, from one export."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    if request.param in ("external", "copies"):
        moto_s3.make_bucket(BUCKET, versioned=True)
        cli.add_provider("s3", moto_s3, BUCKET)
        cli("storage", "verify", "s3")
        copies = ["--copy", "internal"] if request.param == "copies" else []
        cli("destination", "set", service_path, "external", "--provider", "s3", *copies)
    return request.param


def test_backup_killed_at_every_step(cli, service_path, destination, memory_keyring):
    steps = _crash_everywhere(cli, "backup", lambda: service_path, memory_keyring)
    assert steps >= (5 if destination == "internal" else 3)
    rows = cli.json("backup", "list", service_path)
    assert [r["status"] for r in rows].count("succeeded") == 1  # only the run that got through


# A restore reads one place; its fallback across copies is tested in test_copies.py.
@pytest.mark.parametrize("destination", ["internal", "external"], indirect=True)
def test_restore_killed_at_every_step(cli, service_path, destination, postgres, postgres_db, memory_keyring):
    backup_id = cli("backup", "create", service_path).stdout.strip()
    steps = _crash_everywhere(cli, "restore", lambda: backup_id, memory_keyring)
    assert steps >= 3
    assert postgres.psql("SELECT v FROM t", db=postgres_db) == "1"


@pytest.mark.parametrize("destination", ["external"], indirect=True)
def test_backup_copy_killed_at_every_step(cli, service_path, destination, backup_dir, memory_keyring):
    """A copy onto the server's disk of a backup kept in a bucket, killed before each step
    (read the object, wrote half the file, renamed it, recorded it…): after recovery no
    file is left that no record keeps, and a copy that got through is whole."""

    backup_id: int | None = None

    def a_backup_without_its_copy() -> str:
        """The same backup while killed runs left it without a copy (recovery removed what
        they wrote); a new one once a run got as far as recording its copy."""
        nonlocal backup_id
        listed = {r["id"]: r for r in cli.json("backup", "list", service_path)}
        if backup_id is None or listed[backup_id]["copies"]:
            backup_id = int(cli("backup", "create", service_path).stdout)
        return f"{backup_id} internal"

    steps = _crash_everywhere(cli, "copy", a_backup_without_its_copy, memory_keyring)
    assert steps >= 4
    # A run killed after it recorded its copy (before its operation) made a good copy too.
    kept = [c for r in cli.json("backup", "list", service_path) for c in r["copies"]]
    assert kept and all(c["status"] == "succeeded" for c in kept)
    on_disk = sorted(p.name for p in backup_dir.iterdir())
    assert on_disk == sorted(c["location"].rsplit("/", 1)[1] for c in kept)
    operations = [e for e in cli.json("audit") if e["action"] == "backup.copy"]
    assert operations[-1]["result"] == "succeeded"


def _drill_services(postgres) -> list[str]:
    listed = postgres.psql("SELECT datname FROM pg_database WHERE datname LIKE 'dflow-drill-%' ORDER BY 1")
    return listed.split()


def test_drill_killed_at_every_step(cli, service_path, postgres, postgres_db, memory_keyring):
    """Killed before each step (made its service, restored half, counted…): after recovery
    no throwaway service is left and the live service is as it was. Internal only: a drill
    imports with the restore's own code, swept above from a bucket too."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    backup_id = cli("backup", "create", service_path).stdout.strip()
    steps = _crash_everywhere(cli, "drill", lambda: backup_id, memory_keyring)
    assert steps >= 4
    assert _drill_services(postgres) == []
    assert postgres.psql("SELECT v FROM t", db=postgres_db) == "1"
    drills = cli.json("drill", "list", service_path)
    assert drills[0]["status"] == "succeeded" and len(drills) == steps + 1


def test_doctor_removes_the_service_of_a_drill_recovered_while_its_server_was_down(
    cli, service_path, postgres, postgres_db, memory_keyring
):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    backup_id = cli("backup", "create", service_path).stdout.strip()
    for crash_before in range(MAX_STEPS):  # killed once its throwaway service exists
        assert _harness(cli, "drill", backup_id, crash_before, memory_keyring) == CRASHED
        if _drill_services(postgres):
            break
        _recover(cli)
    [left] = _drill_services(postgres)

    async def set_port(port: int) -> int:
        app = await cli.open_app()
        try:
            async with app.db.session() as session:
                server = (await session.exec(select(Server))).one()
                was, server.port = server.port, port
                session.add(server)
                await session.commit()
            return was
        finally:
            await app.close()

    port = asyncio.run(set_port(free_port()))  # nothing listens there: recovery cannot reach it
    _recover(cli)
    asyncio.run(set_port(port))
    assert _drill_services(postgres) == [left]

    found = cli("doctor", ok=None)
    assert found.exit_code != 0 and "leftover-drill" in found.output and left in found.output
    postgres.create_database("dflow-drill-999")  # not made by any drill recorded here
    try:
        fixed = cli("doctor", "--fix", ok=None)
        assert _drill_services(postgres) == ["dflow-drill-999"]
        assert "unknown-drill-service" in fixed.output and "(kept)" in fixed.output
        assert postgres.psql("SELECT v FROM t", db=postgres_db) == "1"
    finally:
        postgres.drop_database("dflow-drill-999")


# With copies the primary is in a bucket and a copy on the server's disk: both removals.
@pytest.mark.parametrize("destination", ["internal", "copies"], indirect=True)
def test_delete_killed_at_every_step(cli, service_path, destination, memory_keyring):
    created = []

    def fresh_backup() -> str:
        created.append(cli("backup", "create", service_path).stdout.strip())
        return created[-1]

    _crash_everywhere(cli, "delete", fresh_backup, memory_keyring)
    left = {str(r["id"]) for r in cli.json("backup", "list", service_path)}
    assert created[-1] not in left  # the run that got through deleted its backup


# Retention removes with the delete's own code (from a bucket and with copies, swept above):
# here, the order of its steps after the new backup.
@pytest.mark.parametrize("destination", ["internal"], indirect=True)
def test_scheduled_backup_and_pruning_killed_at_every_step(cli, service_path, destination, memory_keyring):
    """A daily run with seven dailies already kept: the new one, then retention of the oldest,
    killed at each step of the retention (the backup's own are swept by the test above)."""

    def arrange() -> str:
        """Exactly seven successful dailies, aged one to seven days, and a daily run queued."""
        kept = [r["id"] for r in cli.json("backup", "list", service_path) if r["status"] == "succeeded"]
        while len(kept) < 7:
            kept.insert(0, int(cli("backup", "create", service_path).stdout))
        for extra in kept[7:]:
            cli("backup", "delete", str(extra), "--yes")

        cli.age_into_daily_backups(list(reversed(kept[:7])))  # the newest, kept[0], a day old

        async def queue():
            app = await cli.open_app()
            report = await app.schedules.set(service_path, ["daily"])
            await app.close()
            return report.queued[0].id

        return str(asyncio.run(queue()))

    steps = _crash_everywhere(cli, "scheduled", arrange, memory_keyring)
    assert steps >= 2  # the prune's steps, after the backup is recorded (see crash_harness)
    kept = [r for r in cli.json("backup", "list", service_path) if r["status"] == "succeeded"]
    assert len(kept) == 7


def test_a_restore_into_another_server_killed_mid_copy_leaves_no_temp_file_there(
    cli, service_path, postgres, postgres_db, second_db, local_server, memory_keyring, tmp_path
):
    """Killed once the dump is on the other server, before it is checked and imported:
    recovery removes it from that server (else the next restore into it would find the
    name taken), and the restore then goes through."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (7)", db=postgres_db)
    target = f"staging/main/{second_db}"
    cli("service", "add", target, "--engine", "postgres")
    backup_id = cli("backup", "create", service_path).stdout.strip()
    there = tmp_path / "here-backups"

    assert _harness(cli, "restore-into", f"{backup_id} {target}", 0, memory_keyring) == CRASHED
    [temp] = list(there.glob(f"{second_db}-*.partial"))
    assert temp.stat().st_size > 0
    _recover(cli)
    assert list(there.iterdir()) == []
    _assert_consistent(cli, "after the restore into another server was recovered")

    cli("backup", "restore", backup_id, "--into", target, "--yes", "--no-safety-backup")
    assert postgres.psql("SELECT v FROM t", db=second_db) == "7"
