"""Shared fixtures. The real services behind them (PostgreSQL, OpenSSH, a fake `dokku`) live in tests/infra."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from infra import mariadb as mariadb_infra
from infra import postgres as pg_infra
from infra import sshd as sshd_infra
from infra.fake_dokku import FakeDokku, stop_redis_services, write_fake_dokku
from infra.mariadb import MariadbServer
from infra.memory_keyring import MemoryKeyring
from infra.moto_s3 import moto_s3  # noqa: F401  (fixture)
from infra.postgres import PostgresServer
from infra.sshd import SshServer
from infra.tools import find_program, missing

REAL_SERVICE_FIXTURES = ("postgres", "sshd")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real service, so `-m "not sshd"` deselects it."""
    for item in items:
        for name in REAL_SERVICE_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bindir = pg_infra.find_bindir()
    if bindir is None:
        missing("PostgreSQL server binaries (initdb, pg_ctl)", pg_infra.INSTALL_HINT)
    server = pg_infra.start_postgres(bindir)
    yield server
    server.stop()


@pytest.fixture
def postgres_db(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, empty database (= Dokku service name), dropped after the test."""
    name = f"svc_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    yield name
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariadbServer]:
    """A real MariaDB server: the mysql and mariadb plugins' services are its databases."""
    binary = mariadb_infra.find_mariadb()
    if binary is None:
        missing("MariaDB server (mariadbd)", mariadb_infra.INSTALL_HINT)
    server = mariadb_infra.start_mariadb(binary)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the fake `dokku` keeps one real redis-server per redis service."""
    if find_program("redis-server") is None or find_program("redis-cli") is None:
        missing("redis-server and redis-cli", "apt-get install redis-server redis-tools")
    root = tmp_path_factory.mktemp("redis-services")
    yield root
    stop_redis_services(root)


@pytest.fixture(scope="session")
def fake_dokku(
    postgres: PostgresServer, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> FakeDokku:
    """Backed by every real server this machine has; a test of an engine asks for its
    server's fixture too (`mariadb`, `redis_services`), so it fails in CI, or skips
    elsewhere, when that server is missing."""
    mariadb = request.getfixturevalue("mariadb") if mariadb_infra.find_mariadb() else None
    have_redis = find_program("redis-server") is not None and find_program("redis-cli") is not None
    redis_root = request.getfixturevalue("redis_services") if have_redis else None
    return write_fake_dokku(
        tmp_path_factory.mktemp("fake-dokku-bin"), postgres, mariadb=mariadb, redis_root=redis_root
    )


@pytest.fixture(scope="session")
def sshd(fake_dokku: FakeDokku, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    sshd_path = find_program("sshd", "/usr/sbin/sshd")
    if sshd_path is None:
        missing("OpenSSH server (sshd)", sshd_infra.INSTALL_HINT)
    for client_tool in ("ssh", "ssh-keygen"):
        if find_program(client_tool) is None:
            missing(f"OpenSSH client ({client_tool})", sshd_infra.INSTALL_HINT)
    server = sshd_infra.start_sshd(
        sshd_path, tmp_path_factory.mktemp("sshd"), fake_dokku.bin_dir, getpass.getuser()
    )
    yield server
    server.stop()


@pytest.fixture
def memory_keyring(monkeypatch) -> Iterator[MemoryKeyring]:
    """Secrets go to memory for this test, never to the machine's keyring."""
    previous = keyring.get_keyring()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
