"""The TUI against the demo sandbox: a local server whose `dokku` keeps SQLite files."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tui_support import ACTOR, START, Demo, TickingClock

from dflow_tui.demo import dokku_demo
from dflow_tui.demo.sandbox import open_demo_settings
from dflow_tui.service import Dflow


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Demo:
    """A fresh sandbox; the PATH and data-dir changes it makes are undone after the test."""
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    if dokku_demo.DATA_DIR_ENV in os.environ:
        monkeypatch.setenv(dokku_demo.DATA_DIR_ENV, os.environ[dokku_demo.DATA_DIR_ENV])
    else:
        monkeypatch.delenv(dokku_demo.DATA_DIR_ENV, raising=False)
    root = tmp_path / "sandbox"
    settings = open_demo_settings(root)
    settings.refresh_interval = 0.2
    asyncio.run(add_admin(settings, ACTOR))
    return Demo(root=root, settings=settings)


async def add_admin(settings, login: str) -> None:
    """The sandbox's first user (this OS login, its admin) makes `login` an admin too,
    so the tests act as a fixed user whatever account runs them."""
    api = await Dflow.open(settings)
    try:
        if login != api.actor:
            await api.users.add(login, "admin")
    finally:
        await api.close()


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock(START)


@pytest.fixture
async def dflow(demo: Demo, clock: TickingClock) -> AsyncIterator[Dflow]:
    """The service layer, open on the sandbox, shared by the test and the app."""
    api = await Dflow.open(demo.settings, clock=clock, actor=ACTOR)
    try:
        yield api
    finally:
        await api.close()
