"""Where state lives and how the app is configured, from flags, environment and defaults.

Every default is defined once, here, as a module constant: the `Settings` fields
start from them, and the layers below (`remote`, `storage`, `jobs`) use them when a
caller gives no value. A constant named after a `Settings` field is that field's
default (`CONNECT_TIMEOUT` for `Settings.connect_timeout`).

Importing this module is cheap (no network or database library), so any layer may.
"""

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

# --- servers (SSH) ---------------------------------------------------------------
CONNECT_TIMEOUT = 15.0
"""Seconds to open an SSH connection (or fetch a server's host key)."""
COMMAND_TIMEOUT = 6 * 3600.0
"""Seconds a long server command (export, import) may run."""
SHORT_COMMAND_TIMEOUT = 120.0
"""Seconds a quick server command (checksum, rename, remove, list) may run."""
STREAM_IDLE_TIMEOUT = 600.0
"""Seconds a stream (a dump over SSH, one step of an S3 transfer) may move nothing
before it is stopped."""
MAX_COLLECTED_OUTPUT = 8 * 1024 * 1024
"""Bytes a short command whose whole output is kept (a listing, a checksum) may write."""
DEFAULT_SSH_PORT = 22
"""A server's SSH port when none is given (OpenSSH's own default)."""
DEFAULT_BACKUP_DIR = "dflow-backups"
"""A server's backup directory when none is given (relative: under the SSH user's home)."""
PROBE_COMMAND_TIMEOUT = 60.0
"""Seconds a server command that only looks may run (`dokku version`, a plugin's list of
services, the backup directory's listing)."""
RECOVERY_COMMAND_TIMEOUT = 60.0
"""Seconds to remove what a dead job left on a server (a partial file, an unrecorded dump,
a restore's temp file): best effort, `doctor` finds what is still there."""
CLEANUP_COMMAND_TIMEOUT = 30.0
"""Seconds a failing or stopped job waits for its own partial or temp file to be removed
(the removal is shielded from the cancellation: a stop waits this long at most)."""

DEFAULT_MAX_JOBS = 2
"""Jobs that workers run at once on one server, across every worker sharing the state."""
MOST_MAX_JOBS = 64
"""The highest per-server job limit one may set."""

# --- storage providers (S3) ------------------------------------------------------
S3_MAX_ATTEMPTS = 6
"""Tries per S3 request (botocore "standard" retries: 5xx, throttling, connection errors)."""
S3_CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection to an S3 endpoint."""
S3_READ_TIMEOUT = 120.0
"""Seconds an S3 endpoint may stay silent in the middle of a response."""
DEFAULT_PARALLEL = 4
"""Parts uploaded (and ranges downloaded) at once for a provider, unless it says otherwise."""
MAX_PARALLEL = 16
"""The most parts or ranges a provider may have in flight."""
DEFAULT_PREFIX = "dflow/backups"
"""A storage provider's key prefix when none is given."""
DEFAULT_REGION = "us-east-1"
"""A storage provider's region when none is given."""

# --- jobs, scheduler, faces ------------------------------------------------------
REFRESH_INTERVAL = 1.0
HEARTBEAT_INTERVAL = 10.0
"""Seconds between a running job's heartbeats; cancel requests are read then."""
HEARTBEAT_TIMEOUT = timedelta(seconds=60)
"""A job whose owner (on another host) sent no heartbeat this long is dead; on this host, a
gone owner process is seen at once."""
MAX_JOB_RUNTIME = timedelta(hours=2)
"""A job queued this long without a worker, or running this long, is failed as stale."""
SCHEDULER_INTERVAL = 600.0
WORKER_CONCURRENCY = 2
WORKER_POLL_INTERVAL = 2.0
SHUTDOWN_GRACE = 60.0
NOTIFY_REMINDER = timedelta(hours=24)
"""How often a notifier is reminded of an incident (a failure streak, a late spell) while it lasts."""
NOTIFY_TIMEOUT = 30.0
"""Seconds one message may take to deliver (a slow Slack, an SMTP server that hangs)."""
NOTIFY_RETRY_FIRST = timedelta(minutes=1)
NOTIFY_RETRY_MOST = timedelta(hours=1)
"""An undelivered message is tried again after 1 min, 2, 4, … at most this far apart…"""
NOTIFY_GIVE_UP = timedelta(days=3)
"""…until it is this old: then it is given up (logged, and shown by `notify list`)."""
DEBRIS_MIN_AGE = timedelta(minutes=15)
"""`doctor --fix` leaves partial files and unfinished uploads younger than this: a job that
is just starting may own them before its row says so."""


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
    """The known_hosts file: $DFLOW_TUI_KNOWN_HOSTS, else ~/.ssh/known_hosts (resolved when called)."""
    override = os.environ.get(KNOWN_HOSTS_ENV)
    return Path(override) if override else Path.home() / ".ssh" / "known_hosts"


@dataclass
class Settings:
    db_url: str = field(default_factory=lambda: os.environ.get(DB_ENV) or default_db_url())
    known_hosts: Path = field(default_factory=known_hosts_path)
    connect_timeout: float = CONNECT_TIMEOUT
    command_timeout: float = COMMAND_TIMEOUT
    stream_idle_timeout: float = STREAM_IDLE_TIMEOUT
    refresh_interval: float = REFRESH_INTERVAL
    s3_max_attempts: int = S3_MAX_ATTEMPTS
    heartbeat_interval: float = HEARTBEAT_INTERVAL  # a running job's beat; cancel requests are read then
    heartbeat_timeout: timedelta = HEARTBEAT_TIMEOUT
    max_job_runtime: timedelta = MAX_JOB_RUNTIME
    scheduler_interval: float = SCHEDULER_INTERVAL
    worker_ping_url: str | None = None  # `worker --ping URL`: told after every scheduler pass
    notify_reminder: timedelta = NOTIFY_REMINDER
    worker_concurrency: int = WORKER_CONCURRENCY
    worker_poll_interval: float = WORKER_POLL_INTERVAL
    shutdown_grace: float = SHUTDOWN_GRACE
    debris_min_age: timedelta = DEBRIS_MIN_AGE
