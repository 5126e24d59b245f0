"""Where state lives and how the app is configured, from flags, environment and defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import platformdirs

APP_NAME = "dflow-tui"
DB_ENV = "DFLOW_TUI_DB"
DATA_DIR_ENV = "DFLOW_TUI_DATA_DIR"
KNOWN_HOSTS_ENV = "DFLOW_TUI_KNOWN_HOSTS"


def data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def default_db_url() -> str:
    return f"sqlite+aiosqlite:///{data_dir() / 'state.db'}"


def known_hosts_path() -> Path:
    override = os.environ.get(KNOWN_HOSTS_ENV)
    return Path(override) if override else Path.home() / ".ssh" / "known_hosts"


@dataclass
class Settings:
    db_url: str = field(default_factory=lambda: os.environ.get(DB_ENV) or default_db_url())
    known_hosts: Path = field(default_factory=known_hosts_path)
    connect_timeout: float = 15.0
    command_timeout: float = 6 * 3600.0
    refresh_interval: float = 1.0
    s3_max_attempts: int = 6
    heartbeat_interval: float = 10.0  # a running job's beat; cancel requests are read then
    heartbeat_timeout: timedelta = timedelta(minutes=5)
    max_job_runtime: timedelta = timedelta(hours=2)
    scheduler_interval: float = 600.0
    worker_concurrency: int = 2
    worker_poll_interval: float = 2.0
    shutdown_grace: float = 60.0
