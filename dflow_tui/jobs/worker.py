"""The worker loop: the one place jobs run in a process.

Jobs come from two doors and run the same way: the queue (scheduled backups, or
work another process queued), claimed between scheduler passes while the loop
serves; and `submit()`, for a job this process claimed itself (a key in the app, a
CLI command). A watcher, if a face set one, hears of every job's start, progress and
end. Runs in `dflow-tui worker`, in the open app and under each CLI command alike.
On stop, running jobs get a grace period to finish; what is still running then is
cancelled, which records it as failed — nothing is left in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from dflow_tui.core.enums import WorkerKind
from dflow_tui.core.views import Progress
from dflow_tui.jobs import notify, pings
from dflow_tui.jobs.context import JobContext, ProgressCallback
from dflow_tui.jobs.failure import failure_text
from dflow_tui.jobs.runner import ClaimedJob, JobKind, JobOutcome, next_job, run_job
from dflow_tui.jobs.scheduler import PassReport, run_pass
from dflow_tui.settings import NOTIFY_TIMEOUT
from dflow_tui.store.queries import workers

log = logging.getLogger("dflow_tui.worker")


class JobWatcher(Protocol):
    """What a face hooks into the loop to show the jobs it runs."""

    def job_started(self, job: ClaimedJob) -> None: ...

    def job_progressed(self, job: ClaimedJob, progress: Progress) -> None: ...

    def job_ended(self, outcome: JobOutcome) -> None: ...


class Worker:
    def __init__(self, ctx: JobContext, *, kind: WorkerKind = WorkerKind.WORKER) -> None:
        self.ctx = ctx
        self.kind = kind
        self.watcher: JobWatcher | None = None
        self._running: dict[str, tuple[ClaimedJob, asyncio.Task[JobOutcome]]] = {}
        self.passes = 0
        self._next_pass = 0.0
        self._wake = asyncio.Event()
        # How long running jobs get to finish once the loop is asked to stop (None: the
        # settings' shutdown grace); the open app stops them at once.
        self.stop_grace: float | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._deliver_again = False

    # --- the jobs this process runs -----------------------------------------

    @property
    def running(self) -> list[ClaimedJob]:
        return [job for job, _task in self._running.values()]

    def submit(
        self, job: ClaimedJob, on_progress: ProgressCallback | None = None
    ) -> asyncio.Task[JobOutcome]:
        """Starts a job this process has claimed; it runs beside the others."""
        task = asyncio.create_task(self._run(job, on_progress), name=job.key)
        self._running[job.key] = (job, task)
        task.add_done_callback(lambda _task: self._finished(job))
        return task

    async def run(self, job: ClaimedJob, on_progress: ProgressCallback | None = None) -> JobOutcome:
        """Runs a job in the foreground: cancelling the caller cancels the job, which
        then records how it ended before the cancellation goes on."""
        task = self.submit(job, on_progress)
        try:
            outcome = await asyncio.shield(task)
            await self.delivered()  # a CLI command ends once its messages went out
            return outcome
        except asyncio.CancelledError as stop:
            task.cancel(*stop.args)  # the reason (a signal's name) goes on to the row
            with contextlib.suppress(BaseException):
                await task
            raise

    async def _run(self, job: ClaimedJob, on_progress: ProgressCallback | None) -> JobOutcome:
        watcher = self.watcher
        if watcher is not None:
            _quietly(watcher.job_started, job)

        def progressed(progress: Progress) -> None:
            if on_progress is not None:
                _quietly(on_progress, progress)
            if watcher is not None:
                _quietly(watcher.job_progressed, job, progress)

        try:
            outcome = await run_job(self.ctx, job, progressed)
        except asyncio.CancelledError:  # the row says how it ended; the face hears it ended
            if watcher is not None:
                stopped = JobOutcome(
                    job, False, f"{job.label} stopped", f"{job.label} was stopped.", "Stopped"
                )
                _quietly(watcher.job_ended, stopped)
            raise
        except Exception as error:  # a bug, or the state database went away: say so, keep serving
            log.exception("job %s crashed", job.key)
            text = failure_text(error, self.ctx.secrets)
            outcome = JobOutcome(job, False, f"{job.label} failed", f"{job.label} failed: {text}", text)
        if watcher is not None:
            _quietly(watcher.job_ended, outcome)
        self.deliver_soon()  # what the job had to tell, at once
        return outcome

    async def idle(self) -> None:
        """Returns once no job runs in this process (jobs started meanwhile included)."""
        while self._running:
            await asyncio.wait([task for _job, task in self._running.values()])

    def _finished(self, job: ClaimedJob) -> None:
        self._running.pop(job.key, None)
        self._wake.set()

    # --- serving the queue ----------------------------------------------------

    def wake(self) -> None:
        """Run a scheduler pass now (after a schedule was saved, say)."""
        self._next_pass = 0.0
        self._wake.set()

    async def once(self) -> PassReport:
        """One pass, then every job it queued (and any other claimable one), then return."""
        await self._register()
        try:
            report = await self._pass()
            await self.drain()
            self.deliver_soon()
            await self.delivered()
            return report
        finally:
            await self._unregister()

    async def drain(self) -> int:
        """Runs every claimable job, one after another; returns how many ran."""
        count = 0
        while (job := await next_job(self.ctx)) is not None:
            await self.run(job)
            count += 1
        return count

    async def serve(self, stop: asyncio.Event, *, scheduler: bool = True) -> None:
        """Until `stop` is set: scheduler passes on their interval and the queued jobs
        they make (only with `scheduler`), then the jobs still running get their grace."""
        await self._register()
        try:
            while not stop.is_set():
                if scheduler:
                    await self._serve_once()
                await self._beat()
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(
                        _first(stop.wait(), self._wake.wait()),
                        timeout=self.ctx.settings.worker_poll_interval,
                    )
        finally:
            await self.shutdown(self.stop_grace)
            await self._stop_delivery(self.stop_grace)
            await self._unregister()

    async def _serve_once(self) -> None:
        if time.monotonic() >= self._next_pass:
            self._next_pass = time.monotonic() + self.ctx.settings.scheduler_interval
            try:
                await self._pass()
            except Exception:
                log.exception("scheduler pass failed")
        self.deliver_soon()  # what is due: new messages, and retries
        while len(self._running) < self.ctx.settings.worker_concurrency:
            try:
                job = await next_job(self.ctx)
            except Exception:
                log.exception("claiming a job failed")
                return
            if job is None:
                return
            self.submit(job)

    def deliver_soon(self) -> None:
        """Sends the messages due, beside the jobs (a slow notifier holds up none of them)."""
        if self._delivery is not None and not self._delivery.done():
            self._deliver_again = True
            return
        self._deliver_again = False
        self._delivery = asyncio.create_task(self._deliver(), name="notifications")

    async def _deliver(self) -> None:
        await notify.deliver(self.ctx)
        while self._deliver_again:
            self._deliver_again = False
            await notify.deliver(self.ctx)

    async def delivered(self) -> None:
        """Returns once the messages being sent are (or failed to be)."""
        if self._delivery is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._delivery)

    async def _stop_delivery(self, grace: float | None) -> None:
        """Gives the messages being sent up to `grace` (at most a message's timeout); a
        message cut off stays queued, for the next worker once its claim runs out."""
        task = self._delivery
        if task is None or task.done():
            return
        wait = min(self.ctx.settings.shutdown_grace if grace is None else grace, NOTIFY_TIMEOUT)
        _done, pending = await asyncio.wait([task], timeout=wait)
        for unfinished in pending:
            unfinished.cancel()
            with contextlib.suppress(BaseException):
                await unfinished

    async def _pass(self) -> PassReport:
        """A scheduler pass; then the worker that held its lock (one at a time) looks for
        late services, and the worker's own ping says it is alive."""
        report = await run_pass(self.ctx)
        self.passes += 1
        if report.ran:
            try:
                await notify.watch(self.ctx)
            except Exception:
                log.exception("looking for late services failed")
        await pings.ping(self.ctx.settings.worker_ping_url)
        return report

    async def shutdown(self, grace: float | None = None) -> None:
        """Lets running jobs finish within `grace` seconds (the settings' shutdown grace by
        default); cancels the others, which record themselves as failed — except a restore
        importing or a delete removing: past its point of no return, it runs to its end."""
        tasks = [task for _job, task in self._running.values()]
        if not tasks:
            return
        grace = self.ctx.settings.shutdown_grace if grace is None else grace
        log.info("stopping: waiting up to %.0fs for %d running job(s)", grace, len(tasks))
        _done, pending = await asyncio.wait(tasks, timeout=grace)
        stoppable = [
            task for job, task in self._running.values() if task in pending and not self._past_return(job)
        ]
        for task in stoppable:
            task.cancel()
        if stoppable:
            await asyncio.gather(*stoppable, return_exceptions=True)
            log.warning("%d job(s) cancelled at shutdown and marked failed", len(stoppable))
        unstoppable = [task for task in pending if task not in stoppable]
        if unstoppable:
            log.warning("waiting for %d job(s) past their point of no return to end", len(unstoppable))
            await asyncio.gather(*unstoppable, return_exceptions=True)

    def _past_return(self, job: ClaimedJob) -> bool:
        if job.kind is JobKind.BACKUP:
            return False
        pulse = self.ctx.heartbeats.get(("operation", job.row_id))
        return pulse is not None and pulse.irreversible

    # --- the worker's own row ---------------------------------------------------

    async def _register(self) -> None:
        await workers.register(self.ctx.db, self.ctx.worker_id, self.kind, self.ctx.clock.now())

    async def _beat(self) -> None:
        await workers.beat(self.ctx.db, self.ctx.worker_id, self.ctx.clock.now())

    async def _unregister(self) -> None:
        with contextlib.suppress(Exception):
            await workers.mark_stopped(self.ctx.db, self.ctx.worker_id, self.ctx.clock.now())


def _quietly(hook: Callable[..., Any], *args: Any) -> None:
    """A face's hook failing must not stop the job it watches."""
    try:
        hook(*args)
    except Exception:
        log.exception("a job watcher failed")


async def _first(*awaitables: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
