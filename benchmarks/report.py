"""How figures are printed: one block per section, medians with their spread, ratios beside them.

Every section prints through these helpers so that the output of a run reads as one
table per section, whatever module measured it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MiB = 1024 * 1024
LABEL_WIDTH = 45
CELL_WIDTH = 40


@dataclass(frozen=True)
class Samples:
    """Wall times (seconds) of repeated runs of one thing; `planned` is how many were asked for."""

    seconds: tuple[float, ...]
    planned: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def seconds_text(self) -> str:
        """`12.34 s (12.10-12.61)`: the median, then min-max; `n=2` when the time budget cut the runs."""
        low, high = min(self.seconds), max(self.seconds)
        spread = f"({low:.2f}-{high:.2f})" if len(self.seconds) > 1 else ""
        short = f" n={len(self.seconds)}" if len(self.seconds) < self.planned else ""
        return f"{self.median:6.2f} s {spread}{short}".rstrip()

    def rate_text(self, size_bytes: int) -> str:
        """The median as a throughput over `size_bytes`."""
        return f"{size_bytes / MiB / self.median:6.1f} MiB/s"

    def cell(self, size_bytes: int | None = None) -> str:
        text = self.seconds_text()
        return f"{text} {self.rate_text(size_bytes)}" if size_bytes else text


def ratio(numerator: Samples | None, denominator: Samples | None) -> str:
    """`1.23x` of the medians, or `-` when either side was not measured."""
    if numerator is None or denominator is None:
        return "-"
    return f"{numerator.median / denominator.median:.2f}x"


def header(title: str) -> None:
    print(title, flush=True)


def line(label: str, *cells: str, note: str = "") -> None:
    """One row: a label, cells side by side, then an optional note (a target, a caveat)."""
    text = f"  {label:<{LABEL_WIDTH - 1}} " + "".join(f"{cell:<{CELL_WIDTH}}" for cell in cells)
    if note:
        text = f"{text}  {note}"
    print(text.rstrip(), flush=True)


def columns(*names: str) -> None:
    """A row of column names over the cells that follow."""
    line("", *names)


def text(message: str) -> None:
    print(f"  {message}", flush=True)


def size_text(size_bytes: int) -> str:
    """`2 GiB`, `256 MiB`."""
    if size_bytes >= 1024 * MiB and size_bytes % (1024 * MiB) == 0:
        return f"{size_bytes // (1024 * MiB)} GiB"
    return f"{size_bytes / MiB:.0f} MiB"


def slowest(*samples: Samples) -> Samples:
    return max(samples, key=lambda s: s.median)


@contextmanager
def step(what: str) -> Iterator[None]:
    """Prints how long a preparation step took (generating dumps, starting servers...)."""
    began = time.perf_counter()
    yield
    line(f"({what})", f"{time.perf_counter() - began:.1f} s")
