"""A stand-in `dokku` for the demo sandbox: datastore services kept as SQLite files.

It speaks the plugin commands dflow-tui uses (`ENGINE:list`, `ENGINE:export NAME`
writes a dump to stdout, `ENGINE:import NAME` reads one from stdin, `version`), so
the demo runs exactly the code paths a real Dokku server gets. Postgres services are
`DATA/NAME.sqlite`; mysql, mariadb and redis ones `DATA/ENGINE/NAME.sqlite` (the dump is
the demo's own SQL for every engine: the tests prove the real engines).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

DUMP_HEADER = "-- dflow-tui demo dump v1\n"
DATA_DIR_ENV = "DFLOW_DEMO_DATA"


PLUGINS = {"postgres": "Postgres", "mysql": "MySQL", "mariadb": "MariaDB", "redis": "Redis"}


def _folder(plugin: str) -> Path:
    data = Path(os.environ[DATA_DIR_ENV])
    return data if plugin == "postgres" else data / plugin


def _database(plugin: str, name: str) -> Path:
    return _folder(plugin) / f"{name}.sqlite"


def _fail(message: str) -> int:
    sys.stderr.write(f" !     {message}\n")
    return 1


def _say(message: str) -> None:
    """What the plugins print on stderr while they work (stdout carries the dump)."""
    sys.stderr.write(f"-----> {message}\n")
    sys.stderr.flush()


def _table_sizes(connection: sqlite3.Connection) -> list[tuple[str, int]]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return [(table, connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]) for table in tables]


def main(argv: list[str]) -> int:
    if not argv:
        return _fail("usage: dokku COMMAND")
    command, args = argv[0], argv[1:]
    if command == "version":
        print("dokku version 0.34.0 (dflow-tui demo)")
        return 0
    plugin, _, action = command.partition(":")
    if plugin == "mongo":
        return _fail("mongo plugin is not installed in the demo")
    if plugin not in PLUGINS:
        return _fail(f"`{command}` is not a dokku command")
    label = PLUGINS[plugin]
    if action == "list":
        print(f"=====> {label} services")
        for path in sorted(_folder(plugin).glob("*.sqlite")):
            print(path.stem)
        return 0
    if action in ("export", "import") and len(args) == 1:
        database = _database(plugin, args[0])
        if not database.exists():
            return _fail(f"{label} service {args[0]} does not exist")
        if action == "export":
            with sqlite3.connect(database) as connection:
                for table, rows in _table_sizes(connection):
                    _say(f"dumping table {table} ({rows} rows)")
                sys.stdout.write(DUMP_HEADER)
                for line in connection.iterdump():
                    sys.stdout.write(line + "\n")
            _say(f"export of {args[0]} complete")
            return 0
        dump = sys.stdin.read()
        if not dump.startswith(DUMP_HEADER):
            return _fail(f"input is not a dump made by {plugin}:export")
        _say(f"restoring {len(dump):,} bytes into {args[0]}")
        restored = database.with_suffix(".restoring")
        restored.unlink(missing_ok=True)
        with sqlite3.connect(restored) as connection:
            connection.executescript(dump[len(DUMP_HEADER) :])
            for table, rows in _table_sizes(connection):
                _say(f"restored table {table} ({rows} rows)")
        restored.replace(database)
        return 0
    return _fail(f"`{command}` is not a dokku command")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
