from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from infra.sandbox import make_sandbox

from dflow_tui.core.clock import FixedClock
from dflow_tui.demo.sandbox import DEMO_SERVICE
from dflow_tui.service import Dflow

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "sandbox"
    make_sandbox(root, monkeypatch)
    return root


@pytest.fixture
async def app(sandbox: Path, clock: FixedClock) -> AsyncIterator[Dflow]:
    from dflow_tui.settings import Settings

    api = await Dflow.open(Settings(db_url=f"sqlite+aiosqlite:///{sandbox / 'state.db'}"), clock=clock)
    try:
        yield api
    finally:
        await api.close()


@pytest.fixture
def service() -> str:
    return DEMO_SERVICE


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, sandbox) -> str:
    """A state database of each kind: SQLite in the sandbox, a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{sandbox / 'state.db'}"
    postgres = request.getfixturevalue("postgres")
    name = f"state_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    request.addfinalizer(lambda: postgres.drop_database(name))
    return postgres.url(name, driver="postgresql+asyncpg")
