"""The test suite's real-service helpers (tests/infra), imported the way the tests import them.

pytest puts `tests/` on sys.path (tests/ has a conftest.py and no __init__.py), so the
tests say `from infra import sshd`. The benchmark does the same and only reads them.
"""

from __future__ import annotations

import importlib
import sys
from functools import cache
from pathlib import Path
from types import ModuleType, SimpleNamespace

REPO = Path(__file__).resolve().parent.parent


@cache
def tests_infra() -> SimpleNamespace:
    """tests/infra's `sshd`, `ports`, `tools`, `postgres` and `fleet` modules."""
    tests_dir = str(REPO / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    modules: dict[str, ModuleType] = {
        name: importlib.import_module(f"infra.{name}")
        for name in ("sshd", "ports", "tools", "postgres", "fleet")
    }
    return SimpleNamespace(**modules)
