"""One run's scratch space: a temp dir removed at the end (also on Ctrl-C), and the dumps in it.

Sections ask for a dump by name; it is generated the first time and shared afterwards, so
`python -m benchmarks codec_speed data_path` makes each 512 MiB dump once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from benchmarks import dumps, report
from benchmarks.dumps import Dump
from benchmarks.processes import RunPlan
from benchmarks.report import MiB

DUMP_SIZE = 512 * MiB


def plan_from_env() -> RunPlan:
    """BENCH_RUNS (default 3): runs of each timed command, the median reported;
    BENCH_FIGURE_BUDGET (default 90 s): no further run of a figure once its runs took that long."""
    runs = os.environ.get("BENCH_RUNS", "").strip()
    budget = os.environ.get("BENCH_FIGURE_BUDGET", "").strip()
    return RunPlan(
        runs=max(1, int(runs)) if runs.isdigit() else 3,
        budget=float(budget) if budget.replace(".", "", 1).isdigit() else 90.0,
    )


class Workspace:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dflow-bench-"))
        self.plan = plan_from_env()
        self._dumps: dict[str, Dump] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def directory(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def random_dump(self, size: int = DUMP_SIZE) -> Dump:
        name = "random" if size == DUMP_SIZE else f"random-{size // MiB}"
        return self._dump(name, lambda path: dumps.random_dump(path, size))

    def sql_dump(self) -> Dump:
        return self._dump("sql", lambda path: dumps.sql_text_dump(path, DUMP_SIZE))

    def repeated_block_dump(self, size: int) -> Dump:
        return self._dump(f"repeated-{size // MiB}", lambda path: dumps.repeated_block_dump(path, size))

    def _dump(self, name: str, make: Callable[[Path], Dump]) -> Dump:
        if name not in self._dumps:
            began = time.perf_counter()
            dump = make(self.directory("dumps") / f"{name}.dump")
            report.line(f"(generating the {dump.label})", f"{time.perf_counter() - began:.1f} s")
            self._dumps[name] = dump
        return self._dumps[name]
