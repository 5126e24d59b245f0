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


async def seed_state(settings: Settings, backup_dir: Path) -> None:
    app = await Dflow.open(settings)
    try:
        await app.inventory.add_server("this-machine", local=True, backup_dir=str(backup_dir))
        await app.inventory.add_project("demo", server="this-machine")
        await app.inventory.add_environment("demo", "production")
        await app.inventory.add_service(DEMO_SERVICE, "postgres")
    finally:
        await app.close()


def open_demo_settings(root: Path | None = None) -> Settings:
    """Builds the sandbox under `root` (a new temp dir by default) and returns its settings."""
    root = Path(root or tempfile.mkdtemp(prefix="dflow-demo-"))
    data = install_demo_dokku(root)
    seed_database(data / "shop-db.sqlite")
    settings = Settings(db_url=f"sqlite+aiosqlite:///{root / 'state.db'}")
    asyncio.run(seed_state(settings, root / "backups"))
    return settings


@contextlib.contextmanager
def demo_sandbox() -> Iterator[Settings]:
    """A sandbox in a new temp dir, removed when the app closes: the demo leaves nothing behind."""
    root = Path(tempfile.mkdtemp(prefix="dflow-demo-"))
    try:
        yield open_demo_settings(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
