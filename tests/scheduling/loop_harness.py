"""One process of the concurrency test: the real worker loop for N passes on a fast clock.

Run as `python loop_harness.py STATE_DB KIND PASSES T0`. Every process shares the
same accelerated clock (one real second = one hour from T0), so hourly tiers come
due again and again within seconds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta

from dflow_tui.core.enums import WorkerKind
from dflow_tui.service import Dflow
from dflow_tui.settings import Settings

EPOCH = datetime(2026, 3, 1, tzinfo=UTC)
SPEED = 3600.0


class FastClock:
    def __init__(self, t0: float):
        self.t0 = t0

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=(time.time() - self.t0) * SPEED)


async def main(db_url: str, kind: str, passes: int, t0: float) -> None:
    """The very loop `dflow-tui worker` runs (kind worker-*), or the open app runs (kind app)."""
    settings = Settings(
        db_url=db_url,
        heartbeat_interval=0.5,
        scheduler_interval=0.02,
        worker_poll_interval=0.02,
        heartbeat_timeout=timedelta(days=30),
        max_job_runtime=timedelta(days=30),
    )
    app = await Dflow.open(settings, clock=FastClock(t0), actor=kind)
    app.ctx.worker_id = f"{kind}/{app.ctx.worker_id}"
    loop = app.worker
    loop.kind = WorkerKind.APP if kind == "app" else WorkerKind.WORKER
    stop = asyncio.Event()
    serving = asyncio.create_task(loop.serve(stop))
    try:
        while loop.passes < passes and not serving.done():
            await asyncio.sleep(0.05)
        stop.set()
        await serving
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
