"""The README's bad-input table, row by row: each input gets its clear message and loses nothing."""

from __future__ import annotations

import asyncio
import subprocess
import time


def test_unknown_service(cli, real_server):
    result = cli("backup", "create", "nope/production/db", ok=False)
    assert "No project named 'nope'" in result.stderr
    assert cli.json("backup", "list") == []


def test_bad_engine(cli, service_path):
    result = cli("service", "add", "shop/production/other", "--engine", "oracle", ok=False)
    assert "Unknown engine 'oracle': choose one of postgres, mysql, mariadb, mongo, redis" in result.stderr


def test_bad_port(cli):
    result = cli("server", "add", "s", "--host", "db.example.com", "--port", "70000", ok=False)
    assert "Invalid port 70000: use a number from 1 to 65535" in result.stderr
    assert cli.json("server", "list") == []


def test_missing_ssh_key_file(cli, tmp_path):
    missing = tmp_path / "id_missing"
    result = cli.process("server", "add", "s", "--host", "db.example.com", "--key", str(missing), ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"Error: SSH key file {missing} does not exist"]
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("not a key\n")
    result = cli("server", "add", "s", "--host", "db.example.com", "--key", str(not_a_key), ok=False)
    assert f"SSH key file {not_a_key} is not a usable private key" in result.stderr
    assert cli.json("server", "list") == []


def test_bad_bucket_name(cli, memory_keyring):
    result = cli(
        "storage",
        "add",
        "p",
        "--endpoint",
        "https://s3.example.com",
        "--region",
        "eu",
        "--bucket",
        "My_Bucket",
        "--access-key",
        "AKIA",
        input="secret\n",
        ok=False,
    )
    assert "Invalid bucket name 'My_Bucket'" in result.stderr
    assert cli.json("storage", "list") == [] and memory_keyring.store == {}


def test_truncated_dump_is_refused_before_import(cli, service_path, postgres, postgres_db, backup_dir):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    backup_id = cli("backup", "create", service_path).stdout.strip()
    dump = next(backup_dir.glob("*.dump"))
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    postgres.psql("UPDATE t SET v = 2", db=postgres_db)

    result = cli("backup", "restore", backup_id, "--yes", "--no-safety-backup", ok=False)

    assert "does not match its record" in result.stderr and "refusing to import" in result.stderr
    assert postgres.psql("SELECT v FROM t", db=postgres_db) == "2"


def test_corrupted_dump_is_refused_before_import(cli, service_path, postgres, postgres_db, backup_dir):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    backup_id = cli("backup", "create", service_path).stdout.strip()
    dump = next(backup_dir.glob("*.dump"))
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))

    result = cli("backup", "restore", backup_id, "--yes", "--no-safety-backup", ok=False)

    assert "does not match its record" in result.stderr


def test_restore_of_a_deleted_backup(cli, service_path, postgres, postgres_db):
    postgres.psql("CREATE TABLE t (v int)", db=postgres_db)
    backup_id = cli("backup", "create", service_path).stdout.strip()
    cli("backup", "delete", backup_id, "--yes")

    result = cli("backup", "restore", backup_id, "--yes", ok=False)

    assert f"Backup {backup_id} was deleted; it cannot be restored" in result.stderr


def test_concurrent_restore_is_refused(cli, service_path, postgres, postgres_db):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    first = cli("backup", "create", service_path).stdout.strip()
    second = cli("backup", "create", service_path).stdout.strip()
    # A session holding a lock keeps the first restore's import waiting: it is really running.
    locker = subprocess.Popen(
        [
            str(postgres.bindir / "psql"),
            "-X",
            "-q",
            "-h",
            postgres.host,
            "-p",
            str(postgres.port),
            "-U",
            postgres.user,
            "-d",
            postgres_db,
        ],
        stdin=subprocess.PIPE,
        text=True,
    )
    locker.stdin.write("BEGIN; LOCK TABLE t IN ACCESS SHARE MODE;\n")
    locker.stdin.flush()

    async def scenario():
        app = await cli.open_app()
        running = asyncio.create_task(app.backups.restore(int(first), safety_backup=False))
        deadline = time.monotonic() + 30
        while (await app.backups.get(int(first))).operation_status != "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        refused = await asyncio.to_thread(cli, "backup", "restore", second, "--yes", ok=False)
        locker.stdin.write("COMMIT;\n")
        locker.stdin.flush()
        done = await running
        await app.close()
        return refused, done

    try:
        refused, done = asyncio.run(scenario())
    finally:
        locker.stdin.close()
        locker.wait(timeout=30)

    assert f"A restore of this service (from backup {first}) is queued or running" in refused.stderr
    assert done.status == "succeeded"


def test_discover_on_a_host_without_dokku_fails(cli, tmp_path, monkeypatch):
    """This machine, with a PATH that has no `dokku`: an error, not "no databases found"."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    cli("server", "add", "plain", "--local", "--backup-dir", str(tmp_path / "backups"))
    result = cli.process("server", "discover", "plain", "--project", "found", ok=False)
    assert result.exit_code == 1
    assert "Error: Running `dokku version` failed:" in result.stderr and "not found" in result.stderr
    assert "No databases found" not in result.output
    assert cli.json("service", "list") == []
