"""A stand-in `dokku` for the demo sandbox: datastore services kept as SQLite files.

It speaks the plugin commands dflow-tui uses (`ENGINE:list`, `ENGINE:export NAME`
writes a dump to stdout, `ENGINE:import NAME` reads one from stdin, `ENGINE:create`,
`ENGINE:destroy NAME --force`, `ENGINE:connect NAME` running the SQL it reads, and
answering a drill's count in the plugins' words; `version`), so the demo runs exactly
the code paths a real Dokku server gets. Postgres services are
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
    if action == "create" and len(args) == 1:
        database = _database(plugin, args[0])
        if database.exists():
            return _fail(f"{label} service {args[0]} already exists")
        database.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(database).close()
        _say(f"{label} container created: {args[0]}")
        return 0
    if action == "destroy" and args[1:] == ["--force"]:
        database = _database(plugin, args[0])
        if not database.exists():
            return _fail(f"{label} service {args[0]} does not exist")
        database.unlink()
        _say(f"Deleting {args[0]}")
        return 0
    if action == "connect" and len(args) == 1:
        database = _database(plugin, args[0])
        if not database.exists():
            return _fail(f"{label} service {args[0]} does not exist")
        return _connect(plugin, database, sys.stdin.read())
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


def _connect(plugin: str, database: Path, statements: str) -> int:
    """The client's answer: a drill's count (the real engines' probe queries count every
    table; the demo's services are SQLite files and count their own), or what the SQL returns."""
    with sqlite3.connect(database) as connection:
        sizes = _table_sizes(connection)
        if plugin == "redis" and statements.strip().upper() == "DBSIZE":
            print(f"(integer) {sum(rows for _, rows in sizes)}")
            return 0
        if "dflow-probe" in statements:
            print(f"dflow-probe {len(sizes)} {sum(rows for _, rows in sizes)}")
            return 0
        try:
            for row in connection.execute(statements):
                print("|".join(str(value) for value in row))
        except sqlite3.Error as error:
            return _fail(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
