"""Compression and encryption throughput on the two dumps: what zstd and age would cost the data path.

In this process, fed 1 MiB chunks as the backup reads them: `zstandard` level 3 (one
thread, then one per core) and `pyrage` encrypting to an x25519 recipient. Debian's `zstd`
and `age` binaries, when installed, are a reference line (whole process, file to /dev/null).
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Callable
from functools import partial

import pyrage  # type: ignore[import-untyped]
import zstandard

from benchmarks import processes, report
from benchmarks.dumps import Dump
from benchmarks.report import MiB, Samples
from benchmarks.workspace import Workspace

CHUNK = 1 * MiB


class CountingSink:
    """A writable file-like object that only counts what it is given."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def zstd_in_process(data: bytes, threads: int) -> int:
    """Compressed size of `data` at level 3, fed in CHUNK pieces."""
    compressor = zstandard.ZstdCompressor(level=3, threads=threads).compressobj()
    view = memoryview(data)
    size = sum(len(compressor.compress(view[i : i + CHUNK])) for i in range(0, len(data), CHUNK))
    return size + len(compressor.flush())


def age_in_process(data: bytes, recipient: object) -> int:
    """Encrypted size of `data` (pyrage streams it through in its own chunks)."""
    sink = CountingSink()
    pyrage.encrypt_io(io.BytesIO(data), sink, [recipient])
    return sink.count


def timed_in_process(runs: int, work: Callable[[], int]) -> tuple[Samples, int]:
    """`runs` timings of `work()` and the size it returned (the output of one pass)."""
    seconds, size = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        size = work()
        seconds.append(time.perf_counter() - began)
    return Samples(tuple(seconds)), size


def cell(samples: Samples, dump: Dump, output_size: int | None = None) -> str:
    rates = [dump.size / MiB / s for s in samples.seconds]
    text = f"{dump.size / MiB / samples.median:7.1f} MiB/s ({min(rates):.0f}-{max(rates):.0f})"
    return f"{text}  out {output_size / dump.size:6.1%}" if output_size is not None else text


def run(workspace: Workspace) -> None:
    plan = workspace.plan
    runs = plan.runs
    report.header(
        f"Compression and encryption throughput (median (min-max) of {runs} runs; out = output / input)"
    )
    dumps = [workspace.random_dump(), workspace.sql_dump()]
    recipient = pyrage.x25519.Identity.generate().to_public()
    report.columns(*(d.label for d in dumps))
    contents = [d.path.read_bytes() for d in dumps]
    cores = os.cpu_count() or 1
    in_process: dict[str, Callable[[bytes], int]] = {
        "zstandard level 3, 1 thread": lambda data: zstd_in_process(data, 0),
        f"zstandard level 3, {cores} threads": lambda data: zstd_in_process(data, -1),
        "pyrage (age) to an x25519 recipient": lambda data: age_in_process(data, recipient),
    }
    for label, work in in_process.items():
        cells = []
        for dump, data in zip(dumps, contents, strict=True):
            samples, size = timed_in_process(runs, partial(work, data))
            cells.append(cell(samples, dump, size))
        report.line(label, *cells)
    del contents

    binaries = {
        "zstd -3 (Debian binary, reference)": ["zstd", "-q", "-3", "-c"],
        "zstd -3 -T0 (Debian binary, reference)": ["zstd", "-q", "-3", "-T0", "-c"],
        "age -r (Debian binary, reference)": ["age", "-r", str(recipient)],
    }
    for label, argv in binaries.items():
        if shutil.which(argv[0]) is None:
            report.line(label, f"{argv[0]} is not installed")
            continue
        cells = []
        for dump in dumps:
            once = partial(processes.run_measured, [*argv, str(dump.path)], os.environ, keep_stdout=False)
            cells.append(cell(processes.timings(processes.repeat(plan, once), plan), dump))
        report.line(label, *cells)
