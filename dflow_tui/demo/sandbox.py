"""A throwaway sandbox for `dflow-tui --demo`: a local server whose `dokku` keeps its
databases as SQLite files, a project, and a database service with data in it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dflow_tui.demo import dokku_demo
from dflow_tui.service import Dflow
from dflow_tui.settings import Settings

DEMO_SERVICE = "demo/production/shop-db"
DEMO_SECOND_SERVICE = "demo/production/billing-db"
"""A MariaDB service beside the Postgres one, in `dflow-tui --demo` (the tests' sandbox
has the first only, unless asked)."""


def install_demo_dokku(root: Path) -> Path:
    """Puts the demo `dokku` on PATH for this process and its children."""
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "dokku"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} {Path(dokku_demo.__file__).resolve()} "$@"\n')
    script.chmod(0o755)
    data = root / "databases"
    data.mkdir(exist_ok=True)
    os.environ[dokku_demo.DATA_DIR_ENV] = str(data)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    return data


def seed_database(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total_cents INTEGER);
            INSERT INTO orders (customer, total_cents) VALUES
              ('Ada', 1250), ('Grace', 4999), ('Linus', 300);
            """
        )


async def seed_state(settings: Settings, backup_dir: Path, *, second_engine: bool = False) -> None:
    app = await Dflow.open(settings)
    try:
        await app.inventory.add_server("this-machine", local=True, backup_dir=str(backup_dir))
        await app.inventory.add_project("demo", server="this-machine")
        await app.inventory.add_environment("demo", "production")
        await app.inventory.add_service(DEMO_SERVICE, "postgres")
        if second_engine:
            await app.inventory.add_service(DEMO_SECOND_SERVICE, "mariadb")
            # SQL text: `auto` compresses it on the server, when the server has zstd.
            compression = "auto" if shutil.which("zstd") else "none"
            await app.destinations.set(DEMO_SECOND_SERVICE, "internal", compression=compression)
    finally:
        await app.close()


def open_demo_settings(root: Path | None = None, *, second_engine: bool = False) -> Settings:
    """Builds the sandbox under `root` (a new temp dir by default) and returns its settings."""
    root = Path(root or tempfile.mkdtemp(prefix="dflow-demo-"))
    data = install_demo_dokku(root)
    seed_database(data / "shop-db.sqlite")
    if second_engine:
        (data / "mariadb").mkdir(exist_ok=True)
        with sqlite3.connect(data / "mariadb" / "billing-db.sqlite") as connection:
            connection.executescript(
                """
                CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT, paid INTEGER);
                INSERT INTO invoices (customer, paid) VALUES ('Ada', 1), ('Grace', 0);
                """
            )
    settings = Settings(db_url=f"sqlite+aiosqlite:///{root / 'state.db'}")
    asyncio.run(seed_state(settings, root / "backups", second_engine=second_engine))
    return settings


@contextlib.contextmanager
def demo_sandbox() -> Iterator[Settings]:
    """A sandbox in a new temp dir, removed when the app closes: the demo leaves nothing behind."""
    root = Path(tempfile.mkdtemp(prefix="dflow-demo-"))
    try:
        yield open_demo_settings(root, second_engine=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
