"""The application API both faces use: one object, opened on one state database."""

from __future__ import annotations

import getpass

from dflow_tui.core.clock import Clock, SystemClock
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.worker import JobWatcher, Worker
from dflow_tui.service.access import Access, AuditLog, Users
from dflow_tui.service.backups import Backups
from dflow_tui.service.destination import Destinations
from dflow_tui.service.doctor import Doctor
from dflow_tui.service.inventory import Inventory
from dflow_tui.service.schedules import Schedules
from dflow_tui.service.storage import StorageProviders
from dflow_tui.settings import Settings
from dflow_tui.store.db import Database, open_database


def current_login() -> str:
    return getpass.getuser()


class Dflow:
    def __init__(self, db: Database, settings: Settings, clock: Clock, actor: str):
        self.db = db
        self.settings = settings
        self.clock = clock
        self.actor = actor
        self.ctx = JobContext(db=db, clock=clock, settings=settings)
        self.access = Access(self.ctx, actor)
        self.users = Users(self.ctx, self.access)
        self.audit = AuditLog(self.ctx, self.access)
        self.inventory = Inventory(self.ctx, self.access)
        self.backups = Backups(self.ctx, self.access)
        self.storage = StorageProviders(self.ctx, self.access)
        self.destinations = Destinations(self.ctx, self.access)
        self.schedules = Schedules(self.ctx, self.access)
        self.doctor = Doctor(self.ctx, self.access)

    def worker(self, kind: str = "worker", watcher: JobWatcher | None = None) -> Worker:
        """The loop that runs scheduler passes and queued jobs (see jobs.worker);
        `watcher` hears of each job it runs and of its progress."""
        worker = Worker(self.ctx, kind=kind, watcher=watcher)
        self.schedules.on_saved = worker.wake
        return worker

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        actor: str | None = None,
    ) -> Dflow:
        settings = settings or Settings()
        db = await open_database(settings.db_url)
        app = cls(db, settings, clock or SystemClock(), actor or current_login())
        await app.access.bootstrap()
        return app

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Dflow:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
