"""Finding the external programs the real-service fixtures need."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing(what: str, install_hint: str) -> None:
    """A missing tool fails the run in CI (so coverage never silently drops) and skips elsewhere."""
    message = f"{what} not found; install it with: {install_hint}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def find_program(name: str, *candidates: str) -> Path | None:
    for candidate in candidates:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    found = shutil.which(name)
    return Path(found) if found else None


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
