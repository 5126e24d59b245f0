"""Child processes: measured runs (wall time, and on request the peak RSS) and servers.

A measured command runs in its own session so that a whole pipeline (`bash -c 'a | b'`)
can be killed at once on a timeout or Ctrl-C. Its wall time spans fork to reaping, as a
cron line would experience it. Its peak RSS is the kernel's `ru_maxrss` from `os.wait4`,
taken by peak_rss.py (see there why the command must not be forked from this process).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from benchmarks.report import Samples

DEFAULT_TIMEOUT = 900.0


class CommandFailed(RuntimeError):
    """A measured or setup command exited non-zero; the message carries its stderr."""


PEAK_RSS_HELPER = Path(__file__).with_name("peak_rss.py")


@dataclass(frozen=True)
class Run:
    seconds: float
    stdout: str
    stderr: str
    max_rss_bytes: int | None = None  # only with run_measured(..., peak_rss=True)


def run_measured(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    input_bytes: bytes | None = None,
    keep_stdout: bool = True,
    peak_rss: bool = False,
) -> Run:
    """Run `argv` to its end; raise CommandFailed unless it exits 0.

    `keep_stdout=False` sends stdout to /dev/null (a dump), else it is kept for the caller.
    `peak_rss=True` runs it under peak_rss.py (a few ms more of wall time) for Run.max_rss_bytes.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(prefix="peak-rss-") as rss_file,
    ):
        command = list(argv)
        if peak_rss:
            command = [sys.executable, "-I", "-S", str(PEAK_RSS_HELPER), rss_file.name, *command]
        stdin: int = subprocess.DEVNULL if input_bytes is None else subprocess.PIPE
        sink: int | IO[bytes] = out if keep_stdout else subprocess.DEVNULL
        began = time.perf_counter()
        process = subprocess.Popen(
            command, env=dict(env), stdin=stdin, stdout=sink, stderr=err, start_new_session=True
        )
        killer = threading.Timer(timeout, _kill_group, args=(process.pid,))
        killer.start()
        try:
            if process.stdin is not None and input_bytes is not None:
                process.stdin.write(input_bytes)
                process.stdin.close()
            process.wait()
        except BaseException:
            _kill_group(process.pid)
            process.wait()
            raise
        finally:
            killer.cancel()
        elapsed = time.perf_counter() - began
        _kill_group(process.pid)  # anything the command left running in its session
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        rss_text = Path(rss_file.name).read_text().strip() if peak_rss else ""
    if process.returncode != 0:
        reason = "timed out" if elapsed >= timeout else f"exited with {process.returncode}"
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        raise CommandFailed(f"{' '.join(argv)[:300]} {reason}:\n{tail}")
    return Run(
        seconds=elapsed, stdout=stdout, stderr=stderr, max_rss_bytes=int(rss_text) if rss_text else None
    )


@dataclass(frozen=True)
class RunPlan:
    """How often a figure's command runs: `runs` times, but no new run once `budget` seconds are spent.

    The budget keeps a slow figure (a backup at a few MiB/s) from eating the whole run time;
    the printed figure then says `n=` how many runs it has.
    """

    runs: int
    budget: float


def repeat(
    plan: RunPlan, once: Callable[[], Run], before_each: Callable[[], None] | None = None
) -> list[Run]:
    """Runs of `once()` as `plan` allows; `before_each` is not timed (e.g. emptying the bucket)."""
    runs: list[Run] = []
    while len(runs) < plan.runs and (not runs or sum(run.seconds for run in runs) < plan.budget):
        if before_each is not None:
            before_each()
        runs.append(once())
    return runs


def timings(runs: Sequence[Run], plan: RunPlan) -> Samples:
    return Samples(tuple(run.seconds for run in runs), planned=plan.runs)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def start_server(
    argv: Sequence[str], log_file: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A long-running helper (moto, the proxy) in its own session: we stop it, not Ctrl-C."""
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM its session, then SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        process.wait()
