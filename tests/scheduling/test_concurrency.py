"""Two workers and the app's loop on one SQLite state file: no job twice, no overlap."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from sqlmodel import select

from dflow_tui.service import Dflow
from dflow_tui.settings import Settings
from dflow_tui.store.queries import inventory
from dflow_tui.store.tables import Backup, ScheduleTier

HARNESS = Path(__file__).with_name("loop_harness.py")
SERVICES = ["shop-db", "users-db", "events-db", "billing-db"]


def _export_logger(bin_dir: Path, log: Path) -> None:
    """A `dokku` in front of the demo one that logs when each export starts and ends, and into which file."""
    bin_dir.mkdir()
    script = bin_dir / "dokku"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in *:export) out=$(readlink /proc/$$/fd/1);'
        f' echo "start $(date +%s.%N) $2 $out" >> {log} ;; esac\n'
        f'"{shutil.which("dokku")}" "$@"; rc=$?\n'
        f'case "$1" in *:export) echo "end $(date +%s.%N) $2 $out" >> {log} ;; esac\n'
        "exit $rc\n"
    )
    script.chmod(0o755)


async def _arrange(db_url: str, sandbox: Path) -> None:
    app = await Dflow.open(Settings(db_url=db_url))
    for name in SERVICES[1:]:
        shutil.copy(sandbox / "databases" / "shop-db.sqlite", sandbox / "databases" / f"{name}.sqlite")
        await app.inventory.add_service(f"demo/production/{name}", "postgres")
    for name in SERVICES:  # saved directly: saving through the service would run a pass on the real clock
        async with app.db.session() as session:
            rows = await inventory.service_by_path(session, f"demo/production/{name}")
            for tier in ("hourly", "daily"):
                session.add(ScheduleTier(service_id=rows.service.id, tier=tier))
            await session.commit()
    await app.close()


def test_two_workers_and_the_app_loop_never_run_a_job_twice(sandbox, tmp_path):
    db_url = f"sqlite+aiosqlite:///{sandbox / 'state.db'}"
    asyncio.run(_arrange(db_url, sandbox))
    log = tmp_path / "exports.log"
    _export_logger(tmp_path / "logger-bin", log)
    env = {**os.environ, "PATH": f"{tmp_path / 'logger-bin'}{os.pathsep}{os.environ['PATH']}"}
    t0 = time.time()

    processes = [
        subprocess.Popen(
            [sys.executable, str(HARNESS), db_url, kind, "100", str(t0)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in ("worker-a", "worker-b", "app")
    ]
    for process in processes:
        _out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err

    events = [line.split() for line in log.read_text().splitlines()]
    starts = Counter(event[3] for event in events if event[0] == "start")
    assert sum(starts.values()) >= 20, "too few runs to prove anything"
    assert [f for f, n in starts.items() if n > 1] == []  # no backup exported twice

    spans = defaultdict(list)
    open_at = {}
    for kind, when, service, out in events:
        if kind == "start":
            open_at[out] = float(when)
        else:
            spans[service].append((open_at.pop(out), float(when)))
    assert open_at == {}
    for service, intervals in spans.items():
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert start >= end, f"two backups of {service} overlapped"

    async def rows():
        app = await Dflow.open(Settings(db_url=db_url))
        async with app.db.session() as session:
            backups = (await session.exec(select(Backup))).all()
        await app.close()
        return backups

    backups = asyncio.run(rows())
    # A pass in the last moments may queue a backup that no loop is left to claim: it
    # waits, unclaimed, for the next worker. Every claimed one ran to success.
    claimed = [b for b in backups if b.worker_id is not None]
    waiting = [b for b in backups if b.worker_id is None]
    assert all(b.status == "in-progress" for b in waiting) and len(waiting) <= len(SERVICES)
    assert all(b.status == "succeeded" for b in claimed), [
        (b.status, b.error) for b in claimed if b.status != "succeeded"
    ]
    assert sum(starts.values()) == len(claimed)
    assert {b.trigger for b in backups} == {"scheduled"}
    runners = Counter(b.worker_id.split("/")[0] for b in claimed)
    assert set(runners) == {"worker-a", "worker-b", "app"}, runners
