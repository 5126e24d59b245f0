"""Driving the real CLI against the real sshd + PostgreSQL fixtures."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import shlex
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from engine_services import ENGINES, Engine, Service
from infra.tools import find_program, missing

from dflow_tui.cli import main
from dflow_tui.service import Dflow
from dflow_tui.settings import Settings
from dflow_tui.store.db import open_database
from dflow_tui.store.tables import Backup


@dataclass(frozen=True)
class Ran:
    """What a `dflow-tui` process did: the shape of click's Result, for tests that take either."""

    exit_code: int
    stdout: str
    stderr: str
    terminal: str = ""  # what it wrote to its terminal (a hidden prompt's question, say)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _terminal_is_stdin() -> None:
    """In the child, before it runs: its standard input (a pty) becomes its controlling
    terminal, so that a hidden prompt (getpass opens /dev/tty) reads what the test types."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _read_until(leader: int, text: str, timeout: float = 30.0) -> str:
    """What the terminal shows up to `text` (a prompt), read as the child writes it."""
    import select
    import time

    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"the terminal never showed {text!r}; it showed {seen!r}")
        if select.select([leader], [], [], 0.1)[0]:
            seen += os.read(leader, 4096)
    return seen.decode(errors="replace")


def _drain(leader: int) -> str:
    """What the child wrote to its terminal, once it has ended."""
    import select

    chunks = []
    while select.select([leader], [], [], 0)[0]:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child's side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


@dataclass
class Cli:
    env: dict[str, str]

    def __call__(self, *args: str, ok: bool | None = True, input: str | None = None) -> Result:
        """ok=True: must succeed; ok=False: must fail; ok=None: whatever happens."""
        result = CliRunner().invoke(main, list(args), env=self.env, input=input, catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(
                f"`dflow-tui {shlex.join(args)}` exited {result.exit_code}:\n{result.output}"
            )
        if ok is False and result.exit_code == 0:
            raise AssertionError(f"`dflow-tui {shlex.join(args)}` succeeded:\n{result.output}")
        return result

    def process(
        self,
        *args: str,
        ok: bool | None = True,
        input: str | None = None,
        terminal: bool = False,
        after: str | None = None,
    ) -> Ran:
        """`dflow-tui ARGS` as its own process, as a user or a script runs it; `terminal`:
        its standard input is a terminal (a pty) that types `input` — once the terminal
        shows `after` when given (a hidden prompt flushes what was typed before it)."""
        command = [sys.executable, "-m", "dflow_tui", *args]
        env = {**os.environ, **self.env}
        if terminal:
            leader, follower = pty.openpty()
            try:
                with subprocess.Popen(
                    command,
                    env=env,
                    stdin=follower,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                    preexec_fn=_terminal_is_stdin,  # /dev/tty is the pty, as in a real login
                ) as child:
                    os.close(follower)
                    follower = -1
                    shown = _read_until(leader, after) if after else ""
                    os.write(leader, (input or "").encode())
                    stdout, stderr = child.communicate(timeout=60)
                    done = subprocess.CompletedProcess(command, child.returncode, stdout, stderr)
                    written = shown + _drain(leader)
            finally:
                os.close(leader)
                if follower >= 0:
                    os.close(follower)
        else:
            written = ""
            done = subprocess.run(
                command, env=env, input=input or "", capture_output=True, text=True, timeout=60
            )
        ran = Ran(done.returncode, done.stdout, done.stderr, written)
        if ok and ran.exit_code != 0:
            raise AssertionError(f"`dflow-tui {shlex.join(args)}` exited {ran.exit_code}:\n{ran.output}")
        if ok is False and ran.exit_code == 0:
            raise AssertionError(f"`dflow-tui {shlex.join(args)}` succeeded:\n{ran.output}")
        return ran

    def spawn(self, *args: str) -> subprocess.Popen:
        """`dflow-tui ARGS` as a process of its own (a headless worker, say)."""
        return subprocess.Popen(
            [sys.executable, "-m", "dflow_tui", *args],
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)

    def settings(self, **overrides) -> Settings:
        return Settings(
            db_url=self.env["DFLOW_TUI_DB"], known_hosts=Path(self.env["DFLOW_TUI_KNOWN_HOSTS"]), **overrides
        )

    async def open_app(self, clock=None, **overrides) -> Dflow:
        """The service layer on the same state as the CLI, for acting while a job runs."""
        return await Dflow.open(self.settings(**overrides), clock=clock)

    def age_into_daily_backups(self, ids: list[int]) -> None:
        """Makes real backups look like daily scheduled ones of the previous days (the
        newest, last in `ids`, one day old)."""

        async def age() -> None:
            app = await self.open_app()
            now = app.clock.now()
            async with app.db.session() as session:
                for days, backup_id in enumerate(reversed(ids), start=1):
                    row = await session.get(Backup, backup_id)
                    row.trigger, row.schedule_tier = "scheduled", "daily"
                    row.created_at = now - timedelta(days=days, minutes=5)
                    session.add(row)
                await session.commit()
            await app.close()

        asyncio.run(age())

    def add_provider(
        self,
        name: str,
        moto_s3,
        bucket: str,
        *,
        secret: str | None = None,
        endpoint: str | None = None,
        ok: bool | None = True,
    ) -> Result:
        return self(
            "storage",
            "add",
            name,
            "--endpoint",
            endpoint or moto_s3.endpoint_url,
            "--region",
            moto_s3.region,
            "--bucket",
            bucket,
            "--access-key",
            moto_s3.access_key_id,
            input=(moto_s3.secret_access_key if secret is None else secret) + "\n",
            ok=ok,
        )


@pytest.fixture(scope="session")
def migrated_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty state database at the newest schema, made once: a test copies it rather than
    running every migration again (the migrations have tests of their own)."""
    path = tmp_path_factory.mktemp("migrated-state") / "state.db"

    async def create() -> None:
        database = await open_database(f"sqlite+aiosqlite:///{path}")
        await database.close()

    asyncio.run(create())
    return path


@pytest.fixture
def state_db(tmp_path: Path, migrated_state: Path) -> str:
    """A state database of the test's own, not yet opened by anyone (no user in it yet)."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    shutil.copyfile(migrated_state, state / "state.db")
    (state / "state.db").chmod(0o600)
    return f"sqlite+aiosqlite:///{state / 'state.db'}"


@pytest.fixture
def cli(tmp_path: Path, state_db: str, sshd) -> Cli:
    return Cli(env={"DFLOW_TUI_DB": state_db, "DFLOW_TUI_KNOWN_HOSTS": str(sshd.known_hosts_path)})


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    return tmp_path / "server-backups"


@pytest.fixture
def real_server(cli: Cli, sshd, backup_dir: Path) -> str:
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
    return "real"


@pytest.fixture
def service_path(cli: Cli, real_server: str, postgres_db: str) -> str:
    cli("project", "add", "shop", "--server", real_server)
    cli("env", "add", "shop", "production")
    path = f"shop/production/{postgres_db}"
    cli("service", "add", path, "--engine", "postgres")
    return path


# --- a service of each engine backed by a real server (engine_services.py) ------------


@pytest.fixture(params=list(ENGINES))
def engine(request) -> Engine:
    """postgres, mysql, mariadb and redis in turn."""
    chosen = ENGINES[request.param]
    request.getfixturevalue(chosen.server_fixture)  # fails in CI, skips elsewhere, when missing
    return chosen


@pytest.fixture
def service(cli, sshd, real_server, engine) -> tuple[str, Service]:
    made = Service(sshd, engine)
    made.dokku("create")
    made.dokku("connect", engine.seed)
    cli("project", "add", "shop", "--server", real_server)
    cli("env", "add", "shop", "production")
    path = f"shop/production/{made.name}"
    cli("service", "add", path, "--engine", engine.name)
    yield path, made
    made.dokku("destroy", check=False)


@pytest.fixture
def second_db(postgres):
    """A second database of the test's PostgreSQL, for a second service."""
    name = f"svc_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    yield name
    postgres.drop_database(name)


@pytest.fixture
def local_server(cli, fake_dokku, monkeypatch, tmp_path) -> str:
    """This machine as a second server: its `dokku` is the same stand-in, run without SSH."""
    monkeypatch.setenv("PATH", fake_dokku.env()["PATH"])
    cli("server", "add", "here", "--local", "--backup-dir", str(tmp_path / "here-backups"))
    cli("project", "add", "staging", "--server", "here")
    cli("env", "add", "staging", "main")
    return "here"


@pytest.fixture
def tools() -> dict[str, str]:
    """Debian's age, age-keygen and zstd: what reads what dflow-tui writes."""
    found = {name: find_program(name) for name in ("age", "age-keygen", "zstd")}
    for name, path in found.items():
        if path is None:
            missing(f"the standard {name} tool", "apt-get install age zstd")
    return {name: str(path) for name, path in found.items()}


@pytest.fixture
def age_key(tools, tmp_path) -> tuple[Path, str]:
    """A fresh age identity file, and its public key."""
    key_file = tmp_path / "restore-key.txt"
    subprocess.run([tools["age-keygen"], "-o", str(key_file)], check=True, capture_output=True)
    public = subprocess.run(
        [tools["age-keygen"], "-y", str(key_file)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return key_file, public
