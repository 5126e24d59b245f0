"""A throwaway MariaDB server on 127.0.0.1, owned by the test session."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port, wait_for_port
from .tools import find_program, is_root

INSTALL_HINT = "apt-get install mariadb-server mariadb-client"
USER = "dflow"

# Small and unsafe on purpose: a test server starts in seconds and its data may be lost.
SERVER_OPTIONS = [
    "--skip-name-resolve",
    "--skip-log-bin",
    "--skip-performance-schema",
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=16M",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    # io_uring/libaio are often unavailable in containers and sandboxes.
    "--innodb-use-native-aio=0",
    # Debian's config sets these; --no-defaults would leave latin1.
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
]

# Bootstrap runs without grant tables (as --skip-grant-tables), so CREATE USER needs them loaded first.
# A user of our own: which root accounts exist (and how they log in) depends on the install options.
BOOTSTRAP_SQL = f"""
FLUSH PRIVILEGES;
CREATE USER '{USER}'@'%';
GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION;
"""


def find_mariadb() -> Path | None:
    """The mariadbd binary, or None unless it and the programs the helper runs are all installed."""
    mariadbd = find_program("mariadbd", "/usr/sbin/mariadbd", "/usr/libexec/mariadbd")
    if mariadbd is None or _program("mariadb-install-db") is None or _program("mariadb") is None:
        return None
    return mariadbd


def client_env() -> dict[str, str]:
    """The caller's environment without MYSQL_* variables (MYSQL_PWD would break the password-less login)."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("MYSQL", "MARIADB"))}


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass
class MariadbServer:
    root: Path
    host: str
    port: int
    user: str
    process: subprocess.Popen

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_path(self) -> Path:
        return self.root / "mariadb.sock"

    @property
    def log_file(self) -> Path:
        return self.root / "mariadb.log"

    def client_args(self) -> list[str]:
        """Connection options for mariadb / mariadb-dump; put `--no-defaults` before them to skip my.cnf."""
        return ["--host", self.host, "--port", str(self.port), "--user", self.user, "--protocol=TCP"]

    def sql(self, sql: str, db: str | None = None) -> str:
        """Run `sql` with the real `mariadb` client; tab-separated rows, no header, trailing newline cut."""
        argv = [_require("mariadb"), "--no-defaults", *self.client_args(), "--batch", "--skip-column-names"]
        if db is not None:
            argv.append(f"--database={db}")
        result = subprocess.run(
            [*argv, "-e", sql], capture_output=True, text=True, env=client_env(), timeout=60
        )
        if result.returncode != 0:
            raise RuntimeError(f"mariadb failed ({result.returncode}) on {sql!r}: {result.stderr.strip()}")
        return result.stdout.rstrip("\n")

    def create_database(self, name: str) -> None:
        self.sql(f"CREATE DATABASE {quote_ident(name)}")

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {quote_ident(name)}")

    def database_exists(self, name: str) -> bool:
        query = f"SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {quote_literal(name)}"
        return self.sql(query) == "1"

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                admin = _program("mariadb-admin")
                if admin is not None:
                    # A wedged server is killed below instead.
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        subprocess.run(
                            [str(admin), "--no-defaults", *self.client_args(), "shutdown"],
                            capture_output=True,
                            env=client_env(),
                            timeout=30,
                        )
                _stop(self.process)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_mariadb(mariadbd: Path, host: str = "127.0.0.1", attempts: int = 3) -> MariadbServer:
    # Not under pytest's basetemp, like the PostgreSQL server: a short path keeps the socket under 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="dflow-test-mariadb-"))
    # mariadbd refuses to run as root unless told to.
    as_user = ["--user=root"] if is_root() else []
    try:
        bootstrap_sql = root / "bootstrap.sql"
        bootstrap_sql.write_text(BOOTSTRAP_SQL)
        _run(
            [
                _require("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={root / 'data'}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                f"--extra-file={bootstrap_sql}",
                *as_user,
                *SERVER_OPTIONS,
            ],
            cwd=root,
            # The script's way to pick the server binary (it has no --mysqld option).
            env={**client_env(), "MYSQLD_BOOTSTRAP": str(mariadbd)},
        )
        log_file = root / "mariadb.log"
        for attempt in range(1, attempts + 1):
            port = free_port(host)
            log_start = log_file.stat().st_size if log_file.exists() else 0
            process = subprocess.Popen(
                [
                    str(mariadbd),
                    "--no-defaults",
                    *as_user,
                    f"--datadir={root / 'data'}",
                    f"--socket={root / 'mariadb.sock'}",
                    f"--pid-file={root / 'mariadb.pid'}",
                    f"--log-error={log_file}",
                    f"--tmpdir={root}",
                    f"--port={port}",
                    f"--bind-address={host}",
                    *SERVER_OPTIONS,
                ],
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=client_env(),
            )
            server = MariadbServer(root, host, port, USER, process)
            try:
                wait_for_port(host, port, process, log_file, timeout=60)
                _wait_until_ready(server, timeout=30)
                return server
            except (RuntimeError, TimeoutError) as error:
                _stop(process)
                clash = "Address already in use" in _read(log_file)[log_start:]
                if attempt == attempts or not clash:
                    raise RuntimeError(f"MariaDB did not start: {error}") from error
        raise AssertionError("unreachable")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _wait_until_ready(server: MariadbServer, timeout: float) -> None:
    """The port opens before the grant tables are loaded; a real login proves the server is ready.

    Each probe is short: after a port clash the port belongs to another program, which may never answer.
    """
    probe = [
        _require("mariadb"),
        "--no-defaults",
        *server.client_args(),
        "--connect-timeout=2",
        "-e",
        "SELECT 1",
    ]
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = subprocess.run(probe, capture_output=True, text=True, env=client_env(), timeout=10)
            error = result.stderr.strip()
            if result.returncode == 0:
                return
        except subprocess.TimeoutExpired:
            error = "mariadb timed out"
        if server.process.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(_read(server.log_file).splitlines()[-40:])
            raise RuntimeError(f"{error}\n{tail}")
        time.sleep(0.1)


def _program(name: str) -> Path | None:
    return find_program(name, f"/usr/bin/{name}")


def _require(name: str) -> str:
    path = _program(name)
    if path is None:
        raise RuntimeError(f"{name} not found; install it with: {INSTALL_HINT}")
    return str(path)


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=120)
    if result.returncode != 0:
        output = result.stderr.strip() or result.stdout.strip()
        raise RuntimeError(f"{argv[0]} exited with {result.returncode}: {output}")


def _stop(process: subprocess.Popen) -> None:
    """Give mariadbd time for a clean shutdown (SIGTERM does one), then kill it."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
