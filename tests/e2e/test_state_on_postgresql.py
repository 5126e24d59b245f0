"""The same code with the state database on PostgreSQL (a team sharing one state)."""

from __future__ import annotations

import uuid

from alembic.script import ScriptDirectory

from dflow_tui.store.db import alembic_config


def test_backup_cycle_with_state_on_postgresql(cli, sshd, postgres, postgres_db, backup_dir):
    state = f"state_{uuid.uuid4().hex[:8]}"
    postgres.create_database(state)
    try:
        cli.env["DFLOW_TUI_DB"] = postgres.url(state, driver="postgresql+asyncpg")
        cli(
            "server",
            "add",
            "real",
            "--host",
            sshd.host,
            "--port",
            str(sshd.port),
            "--user",
            sshd.user,
            "--key",
            str(sshd.client_key_path),
            "--backup-dir",
            str(backup_dir),
        )
        cli("project", "add", "shop", "--server", "real")
        cli("env", "add", "shop", "production")
        path = f"shop/production/{postgres_db}"
        cli("service", "add", path, "--engine", "postgres")
        postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)

        backup_id = cli("backup", "create", path).stdout.strip()
        postgres.psql("UPDATE t SET v = 2", db=postgres_db)
        cli("backup", "restore", backup_id, "--yes", "--no-safety-backup")
        cli("backup", "delete", backup_id, "--yes")

        assert postgres.psql("SELECT v FROM t", db=postgres_db) == "1"
        assert cli.json("backup", "list", path) == []
        # A dump of 5 GiB is counted to the byte: size columns are 64-bit on PostgreSQL too.
        postgres.psql(f"UPDATE backups SET size_bytes = {5 * 2**30} WHERE id = {backup_id}", db=state)
        [row] = cli.json("backup", "list", path, "--all")
        assert row["size_bytes"] == 5 * 2**30
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert postgres.psql("SELECT version_num FROM alembic_version", db=state) == head
    finally:
        postgres.drop_database(state)
