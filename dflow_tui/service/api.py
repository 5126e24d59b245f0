"""The application API both faces use: one object, opened on one state database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd

from dflow_tui.core.clock import Clock, SystemClock
from dflow_tui.core.enums import WorkerKind
from dflow_tui.jobs.context import JobContext, process_id
from dflow_tui.jobs.worker import JobWatcher, Worker
from dflow_tui.service.access import Access, AuditLog, Users
from dflow_tui.service.backups import Backups
from dflow_tui.service.destination import Destinations
from dflow_tui.service.doctor import Doctor
from dflow_tui.service.fleet import Fleet
from dflow_tui.service.identities import Identities
from dflow_tui.service.inventory import Inventory
from dflow_tui.service.metrics import Metrics
from dflow_tui.service.notifications import Notifiers
from dflow_tui.service.schedules import Schedules
from dflow_tui.service.storage import StorageProviders
from dflow_tui.settings import Settings
from dflow_tui.store.db import Database, open_database
from dflow_tui.store.state_url import checked_url


def current_login() -> str:
    """The OS account this process runs as (its effective uid), never LOGNAME or USER: roles
    are checked against it, and an environment variable is anyone's to set."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (a container, say)
        return f"uid-{uid}"


class Dflow:
    def __init__(
        self, db: Database, settings: Settings, clock: Clock, actor: str, role: WorkerKind = WorkerKind.CLI
    ):
        self.db = db
        self.settings = settings
        self.clock = clock
        self.actor = actor
        self.ctx = JobContext(db=db, clock=clock, settings=settings, worker_id=process_id(role))
        # The one loop that runs this process's jobs, whoever asked for them.
        self.worker = Worker(self.ctx)
        self._serving: asyncio.Task[None] | None = None
        self._stop_serving: asyncio.Event | None = None
        self.access = Access(self.ctx, actor)
        self.users = Users(self.ctx, self.access)
        self.audit = AuditLog(self.ctx, self.access)
        self.inventory = Inventory(self.ctx, self.access)
        self.fleet = Fleet(self.ctx, self.access, self.inventory)
        self.metrics = Metrics(self.fleet)
        self.backups = Backups(self.ctx, self.access, self.worker)
        self.storage = StorageProviders(self.ctx, self.access)
        self.destinations = Destinations(self.ctx, self.access)
        self.schedules = Schedules(self.ctx, self.access, on_saved=self.worker.wake)
        self.doctor = Doctor(self.ctx, self.access)
        self.identities = Identities(self.ctx, self.access)
        self.notifiers = Notifiers(self.ctx, self.access)

    def start_worker(
        self, *, kind: WorkerKind = WorkerKind.APP, watcher: JobWatcher | None = None, scheduler: bool = True
    ) -> None:
        """Serves the queue in the background (scheduler passes and queued jobs, with
        `scheduler`), as the open app does; `watcher` hears of every job this process runs."""
        if self.serving:
            return
        self.worker.kind = kind
        self.worker.watcher = watcher
        self._stop_serving = asyncio.Event()
        self._serving = asyncio.create_task(self.worker.serve(self._stop_serving, scheduler=scheduler))

    @property
    def serving(self) -> bool:
        """Whether this process's worker loop serves the queue now (see start_worker)."""
        return self._serving is not None and not self._serving.done()

    async def stop_worker(self, grace: float | None = None) -> None:
        """Stops serving; running jobs get `grace` seconds (the shutdown grace by default),
        then are stopped and recorded as failed."""
        self.worker.stop_grace = grace
        if self._stop_serving is not None:
            self._stop_serving.set()
        if self._serving is not None:
            with contextlib.suppress(Exception):
                await self._serving
            self._serving = None
        await self.worker.shutdown(grace)

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        actor: str | None = None,
        role: WorkerKind = WorkerKind.CLI,
    ) -> Dflow:
        """`role`: what this process is (a CLI command, a worker, the app), as the jobs it runs
        name their owner."""
        settings = settings or Settings()
        db = await open_database(checked_url(settings.db_url))
        app = cls(db, settings, clock or SystemClock(), actor or current_login(), role)
        await app.access.bootstrap()
        return app

    async def close(self) -> None:
        await self.stop_worker()
        await self.db.close()

    async def __aenter__(self) -> Dflow:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
