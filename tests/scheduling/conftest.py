from __future__ import annotations

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
