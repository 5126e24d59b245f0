"""Shared fixtures. The real services behind them (PostgreSQL, OpenSSH, a fake `dokku`) live in tests/infra."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Iterator

import keyring
import pytest
from infra import postgres as pg_infra
from infra import sshd as sshd_infra
from infra.fake_dokku import FakeDokku, write_fake_dokku
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
def fake_dokku(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> FakeDokku:
    return write_fake_dokku(tmp_path_factory.mktemp("fake-dokku-bin"), postgres)


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
