"""The demo sandbox as a test fixture: a local server whose `dokku` keeps SQLite files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dflow_tui.demo import dokku_demo
from dflow_tui.demo.sandbox import open_demo_settings
from dflow_tui.settings import Settings


def make_sandbox(root: Path, monkeypatch: pytest.MonkeyPatch, *, second_engine: bool = False) -> Settings:
    """Builds the sandbox under `root`; the PATH and data-dir changes are undone after the test."""
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    if dokku_demo.DATA_DIR_ENV in os.environ:
        monkeypatch.setenv(dokku_demo.DATA_DIR_ENV, os.environ[dokku_demo.DATA_DIR_ENV])
    else:
        monkeypatch.delenv(dokku_demo.DATA_DIR_ENV, raising=False)
    return open_demo_settings(root, second_engine=second_engine)
