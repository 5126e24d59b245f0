"""Prints figures and ratios for the speed and memory targets; asserts nothing.

1. The backup list at 10,000 rows: the service-layer query, the table's first fill,
   and one live refresh in which one row changed (by row key, not a rebuild).
2. The external upload's memory: peak Python allocation while streaming dumps of
   growing size through the multipart uploader to a local S3 endpoint (moto).
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROWS = 10_000
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def timed(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:8.1f} ms   (min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f}, n={len(samples)})"


async def seed(db_url: str) -> None:
    from dflow_tui.core.models import Backup
    from dflow_tui.service import Dflow
    from dflow_tui.settings import Settings

    app = await Dflow.open(Settings(db_url=db_url), actor="bench")
    await app.inventory.add_server("s", local=True, backup_dir="dflow-backups")
    await app.inventory.add_project("p", server="s")
    await app.inventory.add_environment("p", "e")
    service = await app.inventory.add_service("p/e/db", "postgres")
    async with app.db.session() as session:
        for i in range(ROWS):
            when = START + timedelta(minutes=i)
            session.add(Backup(
                service_id=service.id, server_id=1, status="success" if i % 10 else "failed",
                trigger="scheduled" if i % 3 else "manual", schedule_tier="hourly" if i % 3 else None,
                file_path=f"dflow-backups/db-{when:%Y-%m-%d-%H-%M-%S}-000.dump", size_bytes=1000 + i,
                sha256="0" * 64, created_at=when, finished_at=when, error=None if i % 10 else "boom",
            ))
        await session.commit()
    await app.close()


async def list_figures(db_url: str) -> list:
    from dflow_tui.service import Dflow
    from dflow_tui.settings import Settings

    app = await Dflow.open(Settings(db_url=db_url), actor="bench")
    samples, probes = [], []
    for _ in range(10):
        began = time.perf_counter()
        views = await app.backups.list("p/e/db")
        samples.append(time.perf_counter() - began)
        began = time.perf_counter()
        await app.backups.revision("p/e/db")
        probes.append(time.perf_counter() - began)
    await app.close()
    print(f"  service list of {len(views):,} backups     {timed(samples)}")
    print(f"  revision probe (idle refresh)     {timed(probes)}")
    print(f"  ratio probe / list                {statistics.median(probes) / statistics.median(samples):8.3f}")
    return views


async def table_figures(views: list) -> None:
    from dataclasses import replace

    from textual.app import App

    from dflow_tui.ui.widgets.backup_table import BackupTable

    class Bench(App):
        def compose(self):
            yield BackupTable(id="table")

    app = Bench()
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.query_one(BackupTable)
        began = time.perf_counter()
        table.show_backups(views)  # the first slice goes in now, the rest between frames
        on_screen = time.perf_counter() - began
        while table.filling:
            await pilot.pause()
        first = time.perf_counter() - began
        refreshes, unchanged = [], []
        for i in range(10):
            changed = list(views)
            changed[i] = replace(changed[i], status="failed", error=f"changed {i}")
            began = time.perf_counter()
            table.show_backups(changed)
            await pilot.pause()
            refreshes.append(time.perf_counter() - began)
            began = time.perf_counter()
            table.show_backups(changed)
            await pilot.pause()
            unchanged.append(time.perf_counter() - began)
        assert table.row_count == len(views)
    print(f"  table first slice (newest rows)   {timed([on_screen])}")
    print(f"  table first fill ({len(views):,} rows)      {timed([first])}")
    print(f"  live refresh, one row changed     {timed(refreshes)}")
    print(f"  live refresh, nothing changed     {timed(unchanged)}")
    print(f"  ratio refresh / first fill        {statistics.median(refreshes) / first:8.3f}")


def start_moto() -> tuple[subprocess.Popen, int]:
    """moto in its own process: the bucket's memory must not count as ours."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return server, port
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("moto did not start")


async def upload_figures() -> None:
    from dflow_tui.storage import S3Client, StorageConfig, upload_stream

    server, port = start_moto()
    config = StorageConfig(endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1", bucket="bench-bucket",
                           access_key_id="AKIAEXAMPLE", secret_access_key="benchmark-secret")
    chunk = hashlib.sha256(b"x").digest() * 2048  # 64 KiB
    peaks = {}
    try:
        async with S3Client(config) as client:
            await client.raw.create_bucket(Bucket=config.bucket)
            for megabytes in (32, 128, 512):
                remaining = megabytes * 1024 * 1024 // len(chunk)

                async def read_chunk():
                    nonlocal remaining
                    if remaining == 0:
                        return b""
                    remaining -= 1
                    return chunk

                tracemalloc.start()
                began = time.perf_counter()
                result = await upload_stream(client, config.bucket, f"bench/{megabytes}.dump", read_chunk)
                elapsed = time.perf_counter() - began
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                peaks[megabytes] = peak
                print(f"  upload {megabytes:4} MiB: {result.part_count:3} parts, peak Python memory "
                      f"{peak / 2**20:6.1f} MiB, {megabytes / elapsed:6.1f} MiB/s")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"  peak memory ratio 512 MiB / 32 MiB dump: {peaks[512] / peaks[32]:.2f} (1.00 = flat)")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'state.db'}"
        print(f"Backup list with {ROWS:,} rows (SQLite state)")
        began = time.perf_counter()
        await seed(db_url)
        print(f"  seeding                           {timed([time.perf_counter() - began])}")
        views = await list_figures(db_url)
        await table_figures(views)
    print("External upload memory (moto S3 over HTTP on 127.0.0.1)")
    await upload_figures()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
