"""A `dokku` executable that implements the datastore plugins on top of the tests' real
servers: PostgreSQL, MariaDB (the mysql and mariadb plugins) and redis-server (one per
service, started on demand under `redis_root`)."""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .mariadb import MariadbServer
from .postgres import PostgresServer

BODY = Path(__file__).with_name("dokku.bash")
DOKKU_VERSION = "0.34.0"


@dataclass
class FakeDokku:
    bin_dir: Path
    path: Path

    def env(self) -> dict[str, str]:
        """os.environ with the fake `dokku` first on PATH (for the `local` transport)."""
        return {**os.environ, "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}

    def run(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(self.path), *args], input=input, capture_output=True, timeout=120)


def write_fake_dokku(
    bin_dir: Path,
    pg: PostgresServer,
    version: str = DOKKU_VERSION,
    *,
    mariadb: MariadbServer | None = None,
    redis_root: Path | None = None,
) -> FakeDokku:
    settings = {
        "PG_BINDIR": str(pg.bindir),
        "PG_HOST": pg.host,
        "PG_PORT": str(pg.port),
        "PG_USER": pg.user,
        "MY_HOST": mariadb.host if mariadb else "",
        "MY_PORT": str(mariadb.port) if mariadb else "",
        "MY_USER": mariadb.user if mariadb else "",
        "REDIS_ROOT": str(redis_root) if redis_root else "",
        "DOKKU_VERSION": version,
    }
    header = "#!/bin/bash\n" + "".join(f"{key}={shlex.quote(value)}\n" for key, value in settings.items())
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "dokku"
    script.write_text(header + BODY.read_text())
    script.chmod(0o755)
    return FakeDokku(bin_dir=bin_dir, path=script)


def stop_redis_services(redis_root: Path | None) -> None:
    """Shuts down every redis-server the fake `dokku` started under `redis_root`."""
    if redis_root is None or not redis_root.is_dir():
        return
    for socket in redis_root.glob("*/redis.sock"):
        subprocess.run(
            ["redis-cli", "-s", str(socket), "SHUTDOWN", "NOSAVE"], capture_output=True, timeout=30
        )
