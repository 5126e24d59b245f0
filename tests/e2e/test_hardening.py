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
    [row] = [b for b in cli.json("backup", "list", path) if b["status"] == "success"]
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
