"""Proof that the throwaway MariaDB server works with the real clients, and goes away when stopped."""

from __future__ import annotations

import subprocess

import pytest

from . import mariadb as mariadb_infra
from .ports import port_open
from .tools import find_program, missing


def test_mariadb_server_round_trip_and_clean_stop():
    mariadbd = mariadb_infra.find_mariadb()
    if mariadbd is None:
        missing("MariaDB server (mariadbd, mariadb-install-db, mariadb)", mariadb_infra.INSTALL_HINT)
    dump_tool = find_program("mariadb-dump")
    if dump_tool is None:
        missing("MariaDB client (mariadb-dump)", mariadb_infra.INSTALL_HINT)

    server = mariadb_infra.start_mariadb(mariadbd)
    try:
        assert server.sql("SELECT CURRENT_USER()") == f"{server.user}@%"
        server.create_database("shop")
        assert server.database_exists("shop")
        assert not server.database_exists("nope")
        server.sql(
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20));"
            "INSERT INTO items VALUES (1, 'one'), (2, 'twó')",
            db="shop",
        )
        assert server.sql("SELECT id, name FROM items ORDER BY id", db="shop") == "1\tone\n2\ttwó"
        with pytest.raises(RuntimeError, match="does_not_exist"):
            server.sql("SELECT * FROM does_not_exist", db="shop")

        dump = subprocess.run(
            [str(dump_tool), "--no-defaults", *server.client_args(), "shop"],
            capture_output=True,
            text=True,
            env=mariadb_infra.client_env(),
            timeout=60,
        )
        assert dump.returncode == 0, dump.stderr
        assert "CREATE TABLE `items`" in dump.stdout
        assert "(2,'twó')" in dump.stdout

        server.drop_database("shop")
        assert not server.database_exists("shop")
        server.drop_database("shop")  # IF EXISTS: no error the second time
    finally:
        server.stop()

    assert server.process.poll() is not None
    assert not port_open(server.host, server.port)
    assert not server.root.exists()
    server.stop()  # idempotent
