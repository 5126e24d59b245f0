"""The worker loop: scheduler passes on an interval, claimed jobs in between.

Runs in `dflow-tui worker` and inside the open TUI alike. On stop, running jobs
get a grace period to finish; what is still running then is cancelled, which
records it as failed — nothing is left in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from dflow_tui.core.views import Progress
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.runner import ClaimedJob, next_job
from dflow_tui.jobs.scheduler import PassReport, run_pass
from dflow_tui.store.tables import WorkerRecord

log = logging.getLogger("dflow_tui.worker")


class JobWatcher(Protocol):
    """What a face hooks into the loop to show the jobs it runs."""

    def job_started(self, job: ClaimedJob) -> None: ...

    def job_progressed(self, job: ClaimedJob, progress: Progress) -> None: ...

    def job_ended(self, job: ClaimedJob) -> None: ...


class Worker:
    def __init__(self, ctx: JobContext, *, kind: str = "worker", watcher: JobWatcher | None = None):
        self.ctx = ctx
        self.kind = kind
        self.watcher = watcher
        self.running: set[asyncio.Task] = set()
        self.passes = 0
        self._next_pass = 0.0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Run a scheduler pass now (after a schedule was saved, say)."""
        self._next_pass = 0.0
        self._wake.set()

    async def once(self) -> PassReport:
        """One pass, then every job it queued (and any other claimable one), then return."""
        await self._register()
        try:
            report = await run_pass(self.ctx)
            self.passes += 1
            while (job := await next_job(self.ctx)) is not None:
                await self._run(job)
            return report
        finally:
            await self._unregister()

    async def serve(self, stop: asyncio.Event) -> None:
        await self._register()
        try:
            while not stop.is_set():
                if time.monotonic() >= self._next_pass:
                    self._next_pass = time.monotonic() + self.ctx.settings.scheduler_interval
                    try:
                        await run_pass(self.ctx)
                        self.passes += 1
                    except Exception:
                        log.exception("scheduler pass failed")
                await self._start_jobs()
                await self._beat()
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(
                        _first(stop.wait(), self._wake.wait()),
                        timeout=self.ctx.settings.worker_poll_interval,
                    )
        finally:
            await self._shutdown()
            await self._unregister()

    async def _start_jobs(self) -> None:
        while len(self.running) < self.ctx.settings.worker_concurrency:
            try:
                job = await next_job(self.ctx)
            except Exception:
                log.exception("claiming a job failed")
                return
            if job is None:
                return
            task = asyncio.create_task(self._run(job))
            self.running.add(task)
            task.add_done_callback(self._finished)

    async def _run(self, job: ClaimedJob) -> None:
        watcher = self.watcher
        if watcher is None:
            await job.run()
            return
        _quietly(watcher.job_started, job)
        try:
            await job.run(lambda progress: _quietly(watcher.job_progressed, job, progress))
        finally:
            _quietly(watcher.job_ended, job)

    def _finished(self, task: asyncio.Task) -> None:
        self.running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job crashed: %s", task.exception())
        self._wake.set()

    async def _shutdown(self) -> None:
        if not self.running:
            return
        log.info(
            "stopping: waiting up to %.0fs for %d running job(s)",
            self.ctx.settings.shutdown_grace,
            len(self.running),
        )
        _done, pending = await asyncio.wait(set(self.running), timeout=self.ctx.settings.shutdown_grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            log.warning("%d job(s) cancelled at shutdown and marked failed", len(pending))

    async def _register(self) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.db.session() as session:
            record = await session.get(WorkerRecord, self.ctx.worker_id) or WorkerRecord(
                id=self.ctx.worker_id
            )
            record.kind, record.started_at, record.heartbeat_at, record.stopped_at = self.kind, now, now, None
            session.add(record)
            await session.commit()

    async def _beat(self) -> None:
        async with self.ctx.db.session() as session:
            record = await session.get(WorkerRecord, self.ctx.worker_id)
            if record is not None:
                record.heartbeat_at = self.ctx.clock.now()
                session.add(record)
                await session.commit()

    async def _unregister(self) -> None:
        with contextlib.suppress(Exception):
            async with self.ctx.db.session() as session:
                record = await session.get(WorkerRecord, self.ctx.worker_id)
                if record is not None:
                    record.stopped_at = self.ctx.clock.now()
                    session.add(record)
                    await session.commit()


def _quietly(hook, *args) -> None:
    """A face's hook failing must not stop the job it watches."""
    try:
        hook(*args)
    except Exception:
        log.exception("a job watcher failed")


async def _first(*awaitables) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
