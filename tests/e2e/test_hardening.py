"""What a review that tried to break dflow-tui found, each as the attack or accident that
showed it, through real sshd, PostgreSQL and moto."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from infra.tools import missing

from dflow_tui.core.clock import SystemClock
from dflow_tui.jobs.scheduler import run_pass

INTRUDER = "dflow-intruder"


@pytest.fixture(scope="session")
def intruder() -> str:
    """A second, unprivileged account on the test server: the attacker."""
    if os.geteuid() != 0:
        missing("root, to add the unprivileged account these tests act as", "run the suite as root")
    if subprocess.run(["id", INTRUDER], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", INTRUDER],
            check=True,
            capture_output=True,
        )
    return INTRUDER


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every account may write to, as /tmp is."""
    path = Path(tempfile.mkdtemp(prefix="dflow-shared-", dir="/tmp"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_intruder(intruder: str, script: str) -> None:
    subprocess.run(["runuser", "-u", intruder, "--", "sh", "-c", script], check=True, capture_output=True)


def _server_with_dir(cli, sshd, backup_dir: Path, name: str = "shared") -> None:
    cli(
        "server", "add", name, "--host", sshd.host, "--port", str(sshd.port), "--user", sshd.user,
        "--key", str(sshd.client_key_path), "--backup-dir", str(backup_dir),
    )  # fmt: skip


def test_a_backup_directory_another_account_made_is_refused_and_its_symlink_never_followed(
    cli, sshd, postgres, postgres_db, intruder, shared_dir, tmp_path, moto_s3, memory_keyring
):
    """Finding 2: the intruder makes the backup directory first and plants a symlink where
    an external restore would write its temp file. Every job refuses the directory; the
    victim file is neither overwritten nor read."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    victim = tmp_path / "victim"
    victim.write_text("root's precious file\n")
    backups = shared_dir / "backups"
    as_intruder(intruder, f"mkdir -m 755 {backups}")
    # The name an external restore of a backup made now would stream into.
    _server_with_dir(cli, sshd, backups)
    cli("project", "add", "shop", "--server", "shared")
    cli("env", "add", "shop", "production")
    path = f"shop/production/{postgres_db}"
    cli("service", "add", path, "--engine", "postgres")

    result = cli("backup", "create", path, ok=False)
    assert f"{backups} belongs to uid" in result.output and "refusing to use it" in result.output
    assert list(backups.iterdir()) == []

    # External: the backup itself never touches the directory, its restore does.
    cli.add_provider("b2", moto_s3, moto_s3.make_bucket("hardening", versioned=True))
    cli("storage", "verify", "b2")
    cli("destination", "set", path, "external", "--provider", "b2")
    cli("backup", "create", path)
    [row] = [b for b in cli.json("backup", "list", path) if b["status"] == "succeeded"]
    temp_name = row["location"].rsplit("/", 1)[1] + ".partial"
    as_intruder(intruder, f"ln -s {victim} {backups / temp_name}")
    result = cli("backup", "restore", str(row["id"]), "--yes", "--no-safety-backup", ok=False)
    assert "refusing to use it" in result.output
    assert victim.read_text() == "root's precious file\n"


def test_a_backup_directory_that_is_a_symlink_is_refused(
    cli, sshd, postgres, postgres_db, intruder, shared_dir, tmp_path
):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    link = shared_dir / "backups"
    as_intruder(intruder, f"ln -s {elsewhere} {link}")
    _server_with_dir(cli, sshd, link)
    cli("project", "add", "shop", "--server", "shared")
    cli("env", "add", "shop", "production")
    path = f"shop/production/{postgres_db}"
    cli("service", "add", path, "--engine", "postgres")

    result = cli("backup", "create", path, ok=False)
    assert "is a symbolic link; refusing to use it" in result.output
    assert list(elsewhere.iterdir()) == []
    assert elsewhere.stat().st_mode & 0o777 == 0o755  # not chmodded through the link


def test_a_long_import_with_a_live_heartbeat_is_never_failed_for_its_age(
    cli, service_path, postgres, postgres_db
):
    """Finding 1: with the "unclaimed for too long" limit at one second, a restore whose
    import is held for several seconds, and a scheduler pass from another process running
    meanwhile, still finishes: a job that beats is alive, whatever its age."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)

    async def scenario():
        app = await cli.open_app(heartbeat_interval=0.2, max_job_runtime=timedelta(seconds=1))
        cleaner = await cli.open_app(max_job_runtime=timedelta(seconds=1))
        cleaner.ctx.worker_id = "cleaner"
        try:
            backup = await app.backups.create(service_path)
            postgres.psql("INSERT INTO t VALUES (2)", db=postgres_db)
            with postgres.table_locked(postgres_db):  # pg_restore --clean waits to drop t
                restore = asyncio.create_task(app.backups.restore(backup.id, safety_backup=False))
                deadline = time.monotonic() + 30
                while not (await app.backups.get(backup.id)).operation_irreversible:
                    assert time.monotonic() < deadline, "the import never started"
                    await asyncio.sleep(0.05)
                for _ in range(3):
                    await asyncio.sleep(1)
                    cleaner.ctx.clock = SystemClock()
                    report = await run_pass(cleaner.ctx)
                    assert report.cleaned == []
            return await asyncio.wait_for(restore, 60)
        finally:
            await cleaner.close()
            await app.close()

    result = asyncio.run(scenario())
    assert result.status == "succeeded", result.error
    assert postgres.psql("SELECT v FROM t ORDER BY v", db=postgres_db).split() == ["1"]


def test_doctor_fix_spares_a_running_restore_and_young_debris_and_removes_old_debris(
    cli, service_path, postgres, postgres_db, moto_s3, memory_keyring, sshd, backup_dir
):
    """Finding 3: `doctor --fix` while an external restore imports leaves its temp file; a
    partial no job owns is left while young, and removed once old."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    moto_s3.make_bucket("hardening-doctor", versioned=True)
    cli.add_provider("b2", moto_s3, "hardening-doctor")
    cli("storage", "verify", "b2")
    cli("destination", "set", service_path, "external", "--provider", "b2")
    backup_id = int(cli("backup", "create", service_path).stdout)
    postgres.psql("INSERT INTO t VALUES (2)", db=postgres_db)
    debris = backup_dir / f"{postgres_db}-2026-01-01-00-00-00-000.dump.partial"

    async def scenario():
        app = await cli.open_app()
        doctor = await cli.open_app()
        try:
            with postgres.table_locked(postgres_db):  # pg_restore waits to drop t: the import is on
                restore = asyncio.create_task(app.backups.restore(backup_id, safety_backup=False))
                deadline = time.monotonic() + 30
                while not (await app.backups.get(backup_id)).operation_irreversible:
                    assert not restore.done(), restore.result()
                    assert time.monotonic() < deadline, "the import never started"
                    await asyncio.sleep(0.05)
                [temp] = [p for p in backup_dir.iterdir() if p.name.endswith(".partial")]
                debris.write_bytes(b"left by nobody")
                debris.chmod(0o600)
                young = await doctor.doctor.check(fix=True)
                assert temp.exists() and debris.exists()
                doctor.settings.debris_min_age = timedelta(0)
                old = await doctor.doctor.check(fix=True)
                assert temp.exists() and not debris.exists()
            return await asyncio.wait_for(restore, 60), young, old
        finally:
            await doctor.close()
            await app.close()

    result, young, old = asyncio.run(scenario())
    assert result.status == "succeeded", result.error
    assert [f.kind for f in young if "partial" in f.kind] == ["young-partial"]
    assert [(f.kind, f.fixed) for f in old if "partial" in f.kind] == [("leftover-partial", True)]
    assert postgres.psql("SELECT v FROM t ORDER BY v", db=postgres_db).split() == ["1"]


def test_no_backup_starts_while_a_restore_of_the_service_is_importing(
    cli, service_path, postgres, postgres_db
):
    """Finding 4: a "successful" dump of a half-restored database is never taken."""
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    backup_id = int(cli("backup", "create", service_path).stdout)

    async def scenario():
        app = await cli.open_app()
        other = await cli.open_app()
        try:
            with postgres.table_locked(postgres_db):
                restore = asyncio.create_task(app.backups.restore(backup_id, safety_backup=False))
                deadline = time.monotonic() + 30
                while not (await app.backups.get(backup_id)).operation_irreversible:
                    assert time.monotonic() < deadline, "the import never started"
                    await asyncio.sleep(0.05)
                refused = None
                try:
                    await other.backups.create(service_path)
                except Exception as error:
                    refused = str(error)
                pass_report = await other.schedules.set(service_path, ["daily"])  # due at once
            return await asyncio.wait_for(restore, 60), refused, pass_report
        finally:
            await other.close()
            await app.close()

    result, refused, pass_report = asyncio.run(scenario())
    assert result.status == "succeeded", result.error
    said = f"A restore of this service (from backup {backup_id}) is queued or running"
    assert refused is not None and said in refused
    assert pass_report.queued == [] and any(said in why for why in pass_report.refused.values())
    assert [b["status"] for b in cli.json("backup", "list", service_path)] == ["succeeded"]


def test_an_ended_job_is_never_run_again(cli, service_path, postgres, postgres_db):
    """Finding 5: running an old restore again re-imported it; running a finished backup
    again re-uploaded and then removed its object. Now a job runs only a row it holds."""
    from dflow_tui.core.errors import Conflict
    from dflow_tui.jobs.backup import run_backup
    from dflow_tui.jobs.restore import run_restore
    from dflow_tui.store.queries import rows
    from dflow_tui.store.tables import Operation

    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    backup_id = int(cli("backup", "create", service_path).stdout)
    cli("backup", "restore", str(backup_id), "--yes", "--no-safety-backup")
    postgres.psql("UPDATE t SET v = 2", db=postgres_db)

    async def scenario():
        app = await cli.open_app()
        try:
            operation = await rows.load(app.db, Operation, 1)
            with pytest.raises(Conflict, match="not queued for this process: not run again"):
                await run_restore(app.ctx, operation.id)
            with pytest.raises(Conflict, match="not run by this process: not run again"):
                await run_backup(app.ctx, backup_id)
        finally:
            await app.close()

    asyncio.run(scenario())
    assert postgres.psql("SELECT v FROM t", db=postgres_db) == "2"  # nothing re-imported
    [row] = cli.json("backup", "list", service_path)
    assert row["status"] == "succeeded"


def test_two_services_of_one_name_never_share_an_object(
    cli, real_server, postgres, postgres_db, moto_s3, memory_keyring
):
    """Finding 6: shop/production/db and shop/staging/db got the same key under a fixed
    clock; one overwrote the other and deleting either removed both."""
    from dflow_tui.core.clock import FixedClock

    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    moto_s3.make_bucket("hardening-keys", versioned=True)
    cli.add_provider("b2", moto_s3, "hardening-keys")
    cli("storage", "verify", "b2")
    cli("project", "add", "shop", "--server", real_server)
    paths = []
    for env in ("production", "staging"):
        cli("env", "add", "shop", env)
        path = f"shop/{env}/{postgres_db}"
        cli("service", "add", path, "--engine", "postgres")
        cli("destination", "set", path, "external", "--provider", "b2")
        paths.append(path)

    async def both_at_one_instant():
        from datetime import UTC, datetime

        app = await cli.open_app(clock=FixedClock(datetime(2026, 5, 1, tzinfo=UTC)))
        try:
            return [await app.backups.create(path) for path in paths]
        finally:
            await app.close()

    production, staging = asyncio.run(both_at_one_instant())
    assert production.status == staging.status == "succeeded"
    assert production.location != staging.location
    cli("backup", "delete", str(production.id), "--yes")
    staging_key = staging.location.removeprefix("s3://hardening-keys/")
    assert len(moto_s3.versions_of("hardening-keys", staging_key)) == 1  # the other one is untouched


def test_cleanup_aborts_only_the_exact_key_and_an_empty_prefix_is_the_bucket_root(
    cli, service_path, postgres, postgres_db, moto_s3, memory_keyring
):
    """Finding 7: stale cleanup aborted every upload whose key *started* with the backup's
    key; with an empty prefix, doctor listed `/` and called a real backup missing."""
    from dflow_tui.jobs.recovery import remove_unfinished_backup
    from dflow_tui.store.queries import rows
    from dflow_tui.store.tables import Backup

    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    moto_s3.make_bucket("hardening-root", versioned=True)
    cli(
        "storage", "add", "root", "--endpoint", moto_s3.endpoint_url, "--region", moto_s3.region,
        "--bucket", "hardening-root", "--access-key", moto_s3.access_key_id, "--prefix", "",
        input=moto_s3.secret_access_key + "\n",
    )  # fmt: skip
    cli("storage", "verify", "root")
    cli("destination", "set", service_path, "external", "--provider", "root")
    backup_id = int(cli("backup", "create", service_path).stdout)
    [row] = cli.json("backup", "list", service_path)
    key = row["location"].removeprefix("s3://hardening-root/")
    assert not key.startswith("/") and key.startswith("shop/production/")
    assert "consistent" in cli("doctor").output  # the backup at the root is found

    s3 = moto_s3.client()
    neighbour = s3.create_multipart_upload(Bucket="hardening-root", Key=key + ".bak")["UploadId"]
    own = s3.create_multipart_upload(Bucket="hardening-root", Key=key)["UploadId"]

    async def clean():
        app = await cli.open_app()
        try:
            await remove_unfinished_backup(app.ctx, await rows.load(app.db, Backup, backup_id))
        finally:
            await app.close()

    asyncio.run(clean())
    left = [u["UploadId"] for u in moto_s3.multipart_uploads("hardening-root")]
    assert neighbour in left and own not in left


def test_two_admins_removing_each_other_at_once_leave_one_admin_on_postgresql(cli, postgres, monkeypatch):
    """Finding 9: each counted two admins, then both deleted. The count now holds the admin
    rows: with the interleaving forced (each waits for the other after counting), the second
    counts again after the first is done and is refused."""
    import uuid

    from dflow_tui.core.errors import Conflict
    from dflow_tui.service import Dflow
    from dflow_tui.store.queries import users

    state = f"state_{uuid.uuid4().hex[:8]}"
    postgres.create_database(state)
    try:
        settings = cli.settings()
        settings.db_url = postgres.url(state, driver="postgresql+asyncpg")
        counted = 0
        count = users.count_admins

        async def count_then_wait(session):
            nonlocal counted
            admins = await count(session)
            counted += 1
            for _ in range(40):  # wait for the other to have counted too, up to two seconds
                if counted >= 2:
                    break
                await asyncio.sleep(0.05)
            return admins

        async def scenario():
            first = await Dflow.open(settings, actor="alice")
            await first.users.add("bob", "admin")
            bob = await Dflow.open(settings, actor="bob")
            monkeypatch.setattr(users, "count_admins", count_then_wait)
            try:
                return await asyncio.gather(
                    first.users.remove("bob"), bob.users.remove("alice"), return_exceptions=True
                )
            finally:
                monkeypatch.setattr(users, "count_admins", count)
                await bob.close()
                await first.close()

        outcomes = asyncio.run(scenario())
        assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"], outcomes
        assert any(isinstance(o, Conflict) and "last admin" in str(o) for o in outcomes)
        remaining = postgres.psql("SELECT login FROM users WHERE role = 'admin'", db=state).split()
        assert len(remaining) == 1
    finally:
        postgres.drop_database(state)
