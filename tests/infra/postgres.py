"""A throwaway PostgreSQL server on 127.0.0.1, owned by the test session."""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port
from .tools import find_program, is_root

INSTALL_HINT = "apt-get install postgresql (or set PG_BINDIR to the directory holding initdb)"
SUPERUSER = "postgres"


class PsqlError(RuntimeError):
    pass


class CommandError(RuntimeError):
    pass


def find_bindir() -> Path | None:
    """PG_BINDIR, then `pg_config --bindir`, then the newest /usr/lib/postgresql/<ver>/bin, then PATH."""
    candidates: list[str] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(result.stdout.strip())
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        if (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    initdb = find_program("initdb")
    return initdb.parent if initdb else None


def client_env() -> dict[str, str]:
    """The caller's environment without PG* variables that could redirect the clients."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    bindir: Path
    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, db: str = "postgres", driver: str = "postgresql") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{db}"

    def psql(self, sql: str, db: str = "postgres") -> str:
        result = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                db,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            env=client_env(),
            timeout=60,
        )
        if result.returncode != 0:
            raise PsqlError(f"psql failed ({result.returncode}) on {sql!r}: {result.stderr.strip()}")
        return result.stdout.rstrip("\n")

    @contextlib.contextmanager
    def table_locked(self, db: str, table: str = "t"):
        """A session holding an exclusive lock on `table`: pg_dump (and pg_restore's DROP)
        wait for it — a job stopped midway, for real — until the block ends."""
        locker = subprocess.Popen(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                db,
            ],
            stdin=subprocess.PIPE,
            text=True,
            env=client_env(),
        )
        assert locker.stdin is not None
        locker.stdin.write(f"BEGIN; LOCK TABLE {quote_ident(table)} IN ACCESS EXCLUSIVE MODE;\n")
        locker.stdin.flush()
        try:
            yield
        finally:
            locker.stdin.write("COMMIT;\n")
            locker.stdin.close()
            locker.wait(timeout=30)

    def create_database(self, name: str) -> None:
        self.psql(f"CREATE DATABASE {quote_ident(name)}")

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")

    def database_exists(self, name: str) -> bool:
        literal = "'" + name.replace("'", "''") + "'"
        return self.psql(f"SELECT 1 FROM pg_database WHERE datname = {literal}") == "1"

    def stop(self) -> None:
        try:
            _run_as_owner(
                [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
                cwd=self.root,
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(bindir: Path, host: str = "127.0.0.1", attempts: int = 3) -> PostgresServer:
    # Not under pytest's basetemp: as root that tree is 0700, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="dflow-test-pg-"))
    try:
        (root / "sock").mkdir()
        if is_root():
            shutil.chown(root, SUPERUSER, SUPERUSER)
            shutil.chown(root / "sock", SUPERUSER, SUPERUSER)
        _run_as_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(root / "data"),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=root,
        )
        last_error: Exception | None = None
        for _ in range(attempts):
            server = PostgresServer(host, free_port(host), SUPERUSER, bindir, root)
            try:
                _pg_ctl_start(server)
                return server
            except CommandError as error:  # most likely the port was taken meanwhile
                last_error = error
        raise RuntimeError(f"PostgreSQL did not start: {last_error}\n{_read(root / 'postgres.log')}")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _pg_ctl_start(server: PostgresServer) -> None:
    options = " ".join(
        [
            f"-p {server.port}",
            f"-k {shlex.quote(str(server.socket_dir))}",
            f"-c listen_addresses={server.host}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
        ]
    )
    _run_as_owner(
        [
            str(server.bindir / "pg_ctl"),
            "-D",
            str(server.data_dir),
            "-l",
            str(server.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        cwd=server.root,
    )


def _run_as_owner(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run a server-side PostgreSQL program as `postgres` when we are root (initdb refuses root)."""
    if is_root():
        argv = ["runuser", "-u", SUPERUSER, "--", *argv]
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=client_env(), timeout=120)
    if result.returncode != 0:
        output = result.stderr.strip() or result.stdout.strip()
        raise CommandError(f"{shlex.join(argv)} exited with {result.returncode}: {output}")
    return result


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
