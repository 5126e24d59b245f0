"""The backup list at 10,000 rows: the service-layer query, the table's first screen and first
fill, and live refreshes in which one row changed (by row key, not a rebuild) or none did.
"""

from __future__ import annotations

import asyncio
import importlib
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import App, ComposeResult

from benchmarks import report
from benchmarks.report import Samples
from benchmarks.workspace import Workspace
from dflow_tui.core.views import BackupView

ROWS = 10_000
START = datetime(2026, 1, 1, tzinfo=UTC)


def timed(seconds: list[float]) -> str:
    samples = Samples(tuple(seconds))
    return (
        f"median {samples.median * 1000:8.1f} ms   (min {min(seconds) * 1000:.1f}, "
        f"max {max(seconds) * 1000:.1f}, n={len(seconds)})"
    )


def backup_table() -> Any:
    """The Backup table class: dflow_tui.store.tables now, dflow_tui.core.models before."""
    for module in ("dflow_tui.store.tables", "dflow_tui.core.models"):
        try:
            return importlib.import_module(module).Backup
        except ImportError:
            continue
    raise ImportError("No Backup table class in dflow_tui.store.tables or dflow_tui.core.models")


async def seed(db_url: str) -> None:
    from dflow_tui.service import Dflow
    from dflow_tui.settings import Settings

    app = await Dflow.open(Settings(db_url=db_url), actor="bench")
    await app.inventory.add_server("s", local=True, backup_dir="dflow-backups")
    await app.inventory.add_project("p", server="s")
    await app.inventory.add_environment("p", "e")
    service = await app.inventory.add_service("p/e/db", "postgres")
    backup = backup_table()
    async with app.db.session() as session:
        for i in range(ROWS):
            when = START + timedelta(minutes=i)
            session.add(
                backup(
                    service_id=service.id,
                    server_id=1,
                    status="succeeded" if i % 10 else "failed",
                    trigger="scheduled" if i % 3 else "manual",
                    schedule_tier="hourly" if i % 3 else None,
                    file_path=f"dflow-backups/db-{when:%Y-%m-%d-%H-%M-%S}-000.dump",
                    size_bytes=1000 + i,
                    sha256="0" * 64,
                    created_at=when,
                    finished_at=when,
                    error=None if i % 10 else "boom",
                )
            )
        await session.commit()
    await app.close()


async def list_figures(db_url: str) -> tuple[list[BackupView], list[BackupView]]:
    """Times the service's list and revision probe; returns the last two lists read (equal rows,
    each its own objects, as two polls of the app get them)."""
    from dflow_tui.service import Dflow
    from dflow_tui.settings import Settings

    app = await Dflow.open(Settings(db_url=db_url), actor="bench")
    samples, probes = [], []
    views: list[BackupView] = []
    previous: list[BackupView] = []
    for _ in range(10):
        began = time.perf_counter()
        previous, views = views, await app.backups.list("p/e/db")
        samples.append(time.perf_counter() - began)
        began = time.perf_counter()
        await app.backups.revision("p/e/db")
        probes.append(time.perf_counter() - began)
    await app.close()
    print(f"  service list of {len(views):,} backups     {timed(samples)}")
    print(f"  revision probe (idle refresh)     {timed(probes)}")
    print(
        f"  ratio probe / list                {statistics.median(probes) / statistics.median(samples):8.3f}"
    )
    return views, previous


async def table_figures(views: list[BackupView], reread: list[BackupView]) -> None:
    """The table in a headless app. Textual's test pause sleeps at least 20 ms (it waits for the
    CPU to go idle), so a refresh is timed in CPU time, from `show_backups` until the app has
    settled, drawing included; the pause's own CPU is printed beside it. The first screen is
    timed on the wall clock, to the end of the first paint with the rows in it."""
    from dflow_tui.ui.widgets.backup_table import BackupTable

    class Bench(App[None]):
        def compose(self) -> ComposeResult:
            yield BackupTable(id="table")

    app = Bench()
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.query_one(BackupTable)
        await pilot.pause()
        painted: list[float] = []
        first_paint = asyncio.Event()
        render_lines = table.render_lines

        def timed_render_lines(crop: Any) -> Any:
            strips = render_lines(crop)
            painted.append(time.perf_counter())
            first_paint.set()
            return strips

        table.render_lines = timed_render_lines  # type: ignore[method-assign]  # stamps each paint
        began = time.perf_counter()
        table.show_backups(views)  # the first slice goes in now, the rest between frames
        await first_paint.wait()
        on_screen = painted[0] - began
        while table.filling:
            await pilot.pause()
        first = time.perf_counter() - began
        await pilot.pause()

        async def settled_cpu(backups: list[BackupView]) -> float:
            """CPU seconds from show_backups until the app is idle again (painted)."""
            began = time.process_time()
            table.show_backups(backups)
            await pilot.pause()
            return time.process_time() - began

        pauses = []
        for _ in range(10):
            began = time.process_time()
            await pilot.pause()
            pauses.append(time.process_time() - began)
        refreshes, fresh, unchanged = [], [], []
        for i in range(10):
            changed = list(views)
            changed[i] = replace(changed[i], status="failed", error=f"changed {i}")
            refreshes.append(await settled_cpu(changed))
            unchanged.append(await settled_cpu(changed))
            await settled_cpu(views)
            # As the app's poll gets them: every row read again from the database, a new object.
            polled = list(reread)
            polled[i] = replace(polled[i], status="failed", error=f"changed {i}")
            fresh.append(await settled_cpu(polled))
            await settled_cpu(views)
        if table.row_count != len(views):
            print(f"  (the table holds {table.row_count} rows, not {len(views)})")
    print(f"  table first slice on screen       {timed([on_screen])}")
    print(f"  table first fill ({len(views):,} rows)      {timed([first])}")
    print(f"  live refresh, one row changed     {timed(refreshes)}   CPU")
    print(f"  the same, every row a new object  {timed(fresh)}   CPU")
    print(f"  live refresh, nothing changed     {timed(unchanged)}   CPU")
    print(f"  (the test pause alone             {timed(pauses)}   CPU, in each of the three)")
    print(f"  ratio refresh / first fill        {statistics.median(refreshes) / first:8.3f}")


async def figures(db_url: str) -> None:
    began = time.perf_counter()
    await seed(db_url)
    print(f"  seeding                           {timed([time.perf_counter() - began])}")
    views, reread = await list_figures(db_url)
    await table_figures(views, reread)


def run(workspace: Workspace) -> None:
    report.header(f"Backup list with {ROWS:,} rows (SQLite state)")
    db_url = f"sqlite+aiosqlite:///{workspace.directory('list-and-table') / 'state.db'}"
    asyncio.run(figures(db_url))
