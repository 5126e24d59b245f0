"""Backup → change data → restore → the original data is back; delete removes the file.

Through the real CLI, real OpenSSH sshd, and a real PostgreSQL behind the `dokku` script.
"""

from __future__ import annotations

import hashlib
import re

DUMP_RE = re.compile(r"^svc_[0-9a-f]{12}-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}\.dump$")


def test_backup_restore_delete_round_trip(cli, service_path, postgres, postgres_db, backup_dir):
    postgres.psql("CREATE TABLE orders (id int primary key, customer text)", db=postgres_db)
    postgres.psql("INSERT INTO orders VALUES (1, 'Ada'), (2, 'Grace')", db=postgres_db)

    created = cli("backup", "create", service_path)
    backup_id = int(created.stdout.strip())
    assert "exporting postgres service" in created.stderr

    dumps = sorted(p.name for p in backup_dir.iterdir())
    assert len(dumps) == 1 and DUMP_RE.match(dumps[0]), dumps
    dump = backup_dir / dumps[0]
    [row] = cli.json("backup", "list", service_path)
    assert row["id"] == backup_id
    assert row["status"] == "success"
    assert row["type"] == "internal"
    assert row["trigger"] == "manual"
    assert row["size_bytes"] == dump.stat().st_size > 0
    assert row["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert row["location"] == str(dump)

    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)
    postgres.psql("INSERT INTO orders VALUES (3, 'Eve')", db=postgres_db)

    restored = cli("backup", "restore", str(backup_id), "--yes", "--no-safety-backup")
    assert f"Restored backup {backup_id}" in restored.stdout
    assert postgres.psql("SELECT id, customer FROM orders ORDER BY id", db=postgres_db) == "1|Ada\n2|Grace"

    deleted = cli("backup", "delete", str(backup_id))
    assert f"Deleted backup {backup_id}" in deleted.stdout
    assert list(backup_dir.iterdir()) == []
    assert cli.json("backup", "list", service_path) == []
    [gone] = cli.json("backup", "list", service_path, "--all")
    assert gone["id"] == backup_id


def test_restore_takes_a_safety_backup_first_by_default(cli, service_path, postgres, postgres_db, backup_dir):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    first = int(cli("backup", "create", service_path).stdout)
    postgres.psql("UPDATE t SET v = 2", db=postgres_db)

    cli("backup", "restore", str(first), "--yes")

    assert postgres.psql("SELECT v FROM t", db=postgres_db) == "1"
    backups = cli.json("backup", "list", service_path)
    assert [b["status"] for b in backups] == ["success", "success"]
    assert len(list(backup_dir.glob("*.dump"))) == 2


def test_restore_needs_confirmation(cli, service_path, postgres, postgres_db):
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    backup_id = cli("backup", "create", service_path).stdout.strip()
    postgres.psql("UPDATE t SET v = 2", db=postgres_db)

    refused = cli("backup", "restore", backup_id, ok=False)

    assert "--yes" in refused.stderr
    assert postgres.psql("SELECT v FROM t", db=postgres_db) == "2"


def test_discover_imports_the_servers_databases(cli, real_server, postgres_db):
    found = cli("server", "discover", real_server, "--project", "found", "--env", "prod")
    assert f"added  found/prod/{postgres_db}  (postgres)" in found.stdout
    services = cli.json("service", "list")
    assert f"found/prod/{postgres_db}" in [s["path"] for s in services]
    again = cli("server", "discover", real_server, "--project", "found", "--env", "prod")
    assert f"known  found/prod/{postgres_db}" in again.stdout


def test_server_check_reports_dokku_version(cli, real_server):
    result = cli("server", "check", real_server)
    assert "OK" in result.stdout and "dokku version" in result.stdout
