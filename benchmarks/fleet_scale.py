"""Fleet scale: the scheduler pass at 1k / 10k / 100k services (nothing due, and 10% due;
seconds and queries, on SQLite and PostgreSQL), workers sharing the queue as 1, 2, 4 and 8
processes on PostgreSQL (an export stand-in that takes a fixed time), and the Fleet view
opening on 10,000 services.

Targets (issue: fleet scale): a pass over 100,000 services with nothing due in 1 s or less,
the same number of queries at 1k as at 100k; N workers at least 0.8 × N × one worker,
up to 8; the Fleet view open in 300 ms or less at 10,000 services.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import report
from benchmarks.shared_infra import REPO, tests_infra
from benchmarks.workspace import Workspace

SIZES = (1_000, 10_000, 100_000)
DUE = 0.1
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WORKER_COUNTS = (1, 2, 4, 8)
JOBS = 96
EXPORT_SECONDS = 0.5
TIMED_DOKKU = REPO / "tests" / "infra" / "timed_dokku.bash"


async def _open(url: str, *, real_time: bool = False):
    from dflow_tui.core.clock import FixedClock, SystemClock
    from dflow_tui.service import Dflow
    from dflow_tui.settings import Settings

    # As this OS account: the first to open a state becomes its admin, and the worker
    # processes below run as it.
    clock = SystemClock() if real_time else FixedClock(START)
    return await Dflow.open(Settings(db_url=url), clock=clock)


async def _pass_figures(url: str, kind: str) -> None:
    from sqlalchemy import update
    from sqlmodel import col

    from dflow_tui.jobs.scheduler import run_pass
    from dflow_tui.store.tables import Backup

    fleet = tests_infra().fleet
    app = await _open(url)
    try:
        seeded = 0
        baseline: int | None = None
        for size in SIZES:
            began = time.perf_counter()
            await fleet.seed_fleet(app.ctx.db, size - seeded, now=START, first=seeded)
            seeded = size
            seeding = time.perf_counter() - began
            samples = []
            for _ in range(3):
                with fleet.counted_queries(app.ctx.db) as queries:
                    began = time.perf_counter()
                    report_ = await run_pass(app.ctx)
                    samples.append(time.perf_counter() - began)
                assert not report_.queued
            baseline = baseline or len(queries)
            report.line(
                f"{kind:10} {size:>7,} services, none due",
                f"{min(samples):7.3f} s",
                f"{len(queries):4} queries",
                note=f"(queries ×{len(queries) / baseline:.2f} of 1k; seeded in {seeding:.0f} s)",
            )
        # 10% due: the due ones are queued (one row, its checks and its audit line each).
        async with app.ctx.db.session() as session:
            await session.exec(
                update(Backup).where(col(Backup.id) % 10 == 0).values(created_at=START - timedelta(days=2))
            )
            await session.commit()
        with fleet.counted_queries(app.ctx.db) as queries:
            began = time.perf_counter()
            due_report = await run_pass(app.ctx)
            seconds = time.perf_counter() - began
        queued = len(due_report.queued)
        report.line(
            f"{kind:10} {SIZES[-1]:>7,} services, {queued:,} due",
            f"{seconds:7.3f} s",
            f"{len(queries):4} queries",
            note=f"({len(queries) / max(queued, 1):.2f} statements and {seconds / max(queued, 1) * 1000:.2f} ms per queued)",
        )
    finally:
        await app.close()


def pass_figures(workspace: Workspace, postgres) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{workspace.directory('fleet-sqlite') / 'state.db'}"
    asyncio.run(_pass_figures(sqlite_url, "SQLite"))
    postgres.create_database("fleet_pass")
    try:
        asyncio.run(_pass_figures(postgres.url("fleet_pass", driver="postgresql+asyncpg"), "PostgreSQL"))
    finally:
        postgres.drop_database("fleet_pass")


async def _queue_jobs(url: str, backup_dir: Path) -> None:
    from sqlalchemy import update
    from sqlmodel import col

    from dflow_tui.jobs.scheduler import run_pass
    from dflow_tui.store.tables import Server

    app = await _open(url, real_time=True)  # the workers' clock: queued now, not long ago
    try:
        await tests_infra().fleet.seed_fleet(
            app.ctx.db, JOBS, now=app.clock.now(), due=1.0, servers=16, local_dir=str(backup_dir)
        )
        async with app.ctx.db.session() as session:  # the per-server limit is not what is measured
            await session.exec(update(Server).where(col(Server.id) > 0).values(max_jobs=16))
            await session.commit()
        report_ = await run_pass(app.ctx)
        assert len(report_.queued) == JOBS, len(report_.queued)
    finally:
        await app.close()


def _run_workers(workspace: Workspace, postgres, count: int) -> float:
    """Seconds from the first export's start to the last one's end, `count` workers of one job each."""
    name = f"fleet_workers_{count}"
    postgres.create_database(name)
    url = postgres.url(name, driver="postgresql+asyncpg")
    root = workspace.directory(name)
    bin_dir = root / "bin"
    bin_dir.mkdir(exist_ok=True)
    shutil.copy(TIMED_DOKKU, bin_dir / "dokku")
    log = root / "exports.log"
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "DFLOW_TUI_DB": url,
        "DFLOW_TUI_DATA_DIR": str(root / "data"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "TIMED_DOKKU_LOG": str(log),
        "TIMED_DOKKU_SECONDS": str(EXPORT_SECONDS),
    }
    workers: list[subprocess.Popen[str]] = []
    try:
        asyncio.run(_queue_jobs(url, root / "backups"))
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "dflow_tui", "worker", "--concurrency", "1", "--interval", "3600"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        deadline = time.monotonic() + JOBS * EXPORT_SECONDS * 3 + 60
        while True:
            ends = log.read_text().count("end ") if log.exists() else 0
            if ends >= JOBS:
                break
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                errors = [w.communicate(timeout=30)[1] if w.poll() is not None else "" for w in workers]
                raise RuntimeError(f"{count} workers ran {ends} of {JOBS} jobs in time: {errors}")
            time.sleep(0.2)
        events = [line.split() for line in log.read_text().splitlines()]
        starts = sorted(float(at) for kind, _, at in events if kind == "start")
        finishes = sorted(float(at) for kind, _, at in events if kind == "end")
        if len(starts) != JOBS:
            raise RuntimeError(f"{len(starts)} exports for {JOBS} jobs: some ran twice")
        return finishes[-1] - starts[0]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.communicate(timeout=60)
        postgres.drop_database(name)


def worker_figures(workspace: Workspace, postgres) -> None:
    single: float | None = None
    for count in WORKER_COUNTS:
        seconds = _run_workers(workspace, postgres, count)
        single = single or seconds
        throughput = JOBS / seconds
        ratio = (single / seconds) / count
        report.line(
            f"{count} worker process{'es' if count > 1 else ''}, {JOBS} jobs of {EXPORT_SECONDS:g} s",
            f"{seconds:6.1f} s",
            f"{throughput:5.1f} jobs/s",
            note=f"(× {single / seconds:.2f} of one worker; {ratio:.2f} of N × one)",
        )


async def _fleet_view_figures(url: str) -> None:
    from textual.app import App

    from dflow_tui.ui.app import settle_start_up_heap
    from dflow_tui.ui.screens.fleet import FleetScreen

    app_state = await _open(url)
    try:
        await tests_infra().fleet.seed_fleet(app_state.ctx.db, 10_000, now=START, due=DUE, servers=20)

        class Bench(App[None]):
            CSS_PATH = str(REPO / "styles" / "app.tcss")

        # What the main screen holds already: the services, and how they stood at its last
        # health read (every 30 s), which it hands to the Fleet view.
        services = await app_state.inventory.list_services()
        held = (await app_state.fleet.health(services)).rows
        samples: dict[str, list[float]] = {}
        for label, given in (
            ("before the app's first health read", None),
            ("opened on the app's last health read", held),
        ):
            shown, fresh = (
                samples.setdefault(f"{label}: on screen", []),
                samples.setdefault(f"{label}: figures read", []),
            )
            for _ in range(5):
                bench = Bench()
                async with bench.run_test(size=(160, 48)) as pilot:
                    settle_start_up_heap()  # as the app does once it has started
                    began = time.perf_counter()
                    screen = FleetScreen(app_state.fleet, app_state.clock.now, services, given)
                    await bench.push_screen(screen)
                    # On screen: the first row's texts are made when its line is first drawn.
                    while not (screen.table.rows and screen.table.rows[0]._texts):  # noqa: ASYNC110
                        await asyncio.sleep(0.001)
                    shown.append(time.perf_counter() - began)
                    while not screen.loaded:  # noqa: ASYNC110 (polling is the measurement)
                        await asyncio.sleep(0.001)
                    await pilot.pause()
                    fresh.append(time.perf_counter() - began)
        for label, found in samples.items():
            report.line(
                f"Fleet view, 10,000 services, {label}",
                f"{min(found) * 1000:7.1f} ms",
                note=f"(median {sorted(found)[len(found) // 2] * 1000:.1f} ms of {len(found)})",
            )
    finally:
        await app_state.close()


def run(workspace: Workspace) -> None:
    infra = tests_infra()
    bindir = infra.postgres.find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries are missing (make bench-system-packages)")
    postgres = infra.postgres.start_postgres(bindir)
    try:
        report.header("Scheduler pass over a fleet (each service: a daily tier, last success 1 h old)")
        pass_figures(workspace, postgres)
        report.header(f"Workers sharing one PostgreSQL queue ({JOBS} backups, 16 servers)")
        worker_figures(workspace, postgres)
        report.header("Fleet view (TUI)")
        view_url = f"sqlite+aiosqlite:///{workspace.directory('fleet-view') / 'state.db'}"
        asyncio.run(_fleet_view_figures(view_url))
    finally:
        postgres.stop()
