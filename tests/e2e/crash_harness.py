"""Runs one flow in a forked process that dies (os._exit, like SIGKILL: no cleanup
runs) before its step N.

A step is a command on the server, a call to the S3 API, or the write that records
how the job ended. The process exits 0 when the flow has fewer than N+1 steps (it ran
to its end), 137 when it died.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from dflow_tui.jobs import context as job_context
from dflow_tui.jobs.runner import next_job, run_job
from dflow_tui.service import Dflow
from dflow_tui.settings import Settings
from dflow_tui.storage import s3
from dflow_tui.store.queries import rows

CRASHED = 137


class Steps:
    """`counting_from`: steps are counted only after the one whose description starts so."""

    def __init__(self, crash_before: int, counting_from: str | None = None):
        self.crash_before = crash_before
        self.count = 0
        self.waiting_for = counting_from

    def step(self, what: str) -> None:
        if self.waiting_for is not None:
            if what.startswith(self.waiting_for):
                self.waiting_for = None
            return
        if self.count == self.crash_before:
            print(f"crashing before step {self.count}: {what}", file=sys.stderr, flush=True)
            os._exit(CRASHED)
        self.count += 1


def instrument(steps: Steps) -> None:
    connect = job_context.JobContext.connect

    def counting_connect(self, server):
        manager = connect(self, server)

        class Counting:
            async def __aenter__(inner):
                transport = await manager.__aenter__()
                run, start = transport.run, transport.start

                async def counted_run(command, **kwargs):
                    steps.step(f"run {command[:60]}")
                    return await run(command, **kwargs)

                async def counted_start(command, *args, **kwargs):
                    steps.step(f"start {command[:60]}")
                    return await start(command, *args, **kwargs)

                transport.run, transport.start = counted_run, counted_start
                return transport

            async def __aexit__(inner, *exc):
                return await manager.__aexit__(*exc)

        return Counting()

    job_context.JobContext.connect = counting_connect

    enter = s3.S3Client.__aenter__

    async def counting_enter(self):
        client = await enter(self)
        client.raw.meta.events.register("before-call.s3", lambda model, **_: steps.step(f"s3 {model.name}"))
        return client

    s3.S3Client.__aenter__ = counting_enter

    finish = rows.update_if_ours

    async def counting_finish(db, model, row_id, worker_id, active, **values):
        if "status" in values:
            steps.step(f"record {model.__tablename__} {row_id} {values['status']}")
        return await finish(db, model, row_id, worker_id, active, **values)

    rows.update_if_ours = counting_finish


async def main(db_url: str, known_hosts: str, flow: str, arg: str) -> None:
    app = await Dflow.open(Settings(db_url=db_url, known_hosts=Path(known_hosts)))
    try:
        if flow == "backup":
            await app.backups.create(arg)
        elif flow == "scheduled":  # a worker claims the queued backup, runs it, then retention
            job = await next_job(app.ctx)
            assert job is not None and job.row_id == int(arg), job
            await run_job(app.ctx, job)
        elif flow == "restore":
            await app.backups.restore(int(arg), safety_backup=False)
        elif flow == "delete":
            await app.backups.delete(int(arg))
        elif flow == "restore-into":
            backup_id, into = arg.split(" ", 1)
            await app.backups.restore(int(backup_id), into=into, safety_backup=False)
        elif flow == "drill":
            await app.backups.drill((await app.backups.get(int(arg))).service_path, int(arg))
        elif flow == "copy":
            backup_id, to = arg.split(" ", 1)
            await app.backups.copy(int(backup_id), to)
    finally:
        await app.close()


# Where counting starts, per flow (steps before it are not counted).
COUNTING_FROM = {
    # The scheduled run's backup is the backup flow's own steps, swept by its test: here the
    # sweep starts once the backup is recorded, where retention begins.
    "scheduled": "record backups {arg} succeeded",
    # Once the dump is being copied onto the other server.
    "restore-into": "start umask 077 && set -C && cat >",
}


def run_and_crash(
    db_url: str, known_hosts: str, flow: str, arg: str, crash_before: int, secrets: dict, environ: dict
) -> None:
    """The body of a child: the test's environment and keyring entries, the step counter,
    the flow."""
    import keyring
    from infra.memory_keyring import MemoryKeyring

    os.environ.clear()
    os.environ.update(environ)
    backend = MemoryKeyring()
    backend.store = dict(secrets)
    keyring.set_keyring(backend)
    counting_from = COUNTING_FROM[flow].format(arg=arg) if flow in COUNTING_FROM else None
    instrument(Steps(crash_before, counting_from))
    asyncio.run(main(db_url, known_hosts, flow, arg))
    os._exit(0)
