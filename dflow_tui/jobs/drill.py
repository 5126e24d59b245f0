"""The restore drill: prove a backup restores, the Dokku way, without touching its service.

A throwaway service `dflow-drill-<operation id>` of the backup's engine is created with
`dokku ENGINE:create` on the backup's server, the backup is imported into it (checked
against its record first, like any restore), its tables and rows (redis: keys) are
counted through `dokku ENGINE:connect` and compared with what the live service held
when the backup was taken (core.engines.drill_problem), and the throwaway service is
destroyed — after a success, a failure or a cancel.

Nothing is destroyed that a drill did not make: the name is written on the operation
before the create, and `drill_created_at` only once `dokku ENGINE:create` succeeded (it
fails on a name that exists). `destroy_throwaway` acts only on such a row, and only on
a name with the drill prefix; stale cleanup calls it for a drill whose process died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dflow_tui.core.engines import Probe, drill_problem, drill_summary
from dflow_tui.core.enums import OperationKind
from dflow_tui.core.errors import DflowError
from dflow_tui.jobs.commands import must_run
from dflow_tui.jobs.context import JobContext, ProgressCallback, report
from dflow_tui.jobs.identities import identity_for
from dflow_tui.jobs.operation import run_operation
from dflow_tui.jobs.probe import probe
from dflow_tui.jobs.restore import import_backup
from dflow_tui.remote.dokku import create_command, destroy_command
from dflow_tui.remote.transport import Transport
from dflow_tui.settings import CLEANUP_COMMAND_TIMEOUT
from dflow_tui.store.queries import rows
from dflow_tui.store.tables import Backup, Operation, Server, Service

log = logging.getLogger("dflow_tui.drill")
DRILL_PREFIX = "dflow-drill-"


def throwaway_name(operation_id: int) -> str:
    return f"{DRILL_PREFIX}{operation_id}"


async def run_drill(
    ctx: JobContext, operation_id: int, on_progress: ProgressCallback | None = None
) -> Operation:
    async def body(operation: Operation) -> None:
        backup = await rows.load(ctx.db, Backup, operation.backup_id)
        service = await rows.load(ctx.db, Service, backup.service_id)
        server = await rows.load(ctx.db, Server, backup.server_id)
        identity = await identity_for(ctx, backup, ctx.identities.get(operation_id))
        name = throwaway_name(operation_id)
        await rows.update(ctx.db, Operation, operation_id, drill_service=name)
        throwaway = Service(name=name, engine=service.engine, environment_id=service.environment_id)
        job = f"drill of backup {backup.id}"
        async with ctx.connect(server) as transport:
            report(on_progress, job, f"creating the throwaway {service.engine} service {name}")
            await must_run(
                transport, create_command(service.engine, name), f"Creating the drill's service {name}"
            )
            await rows.update(ctx.db, Operation, operation_id, drill_created_at=ctx.clock.now())
            try:
                await import_backup(
                    ctx, transport, operation, backup, throwaway, server, server, identity, job, on_progress
                )
                report(on_progress, job, f"looking inside {name}")
                found = await probe(transport, service.engine, name)
                expected = None
                if backup.probe_rows is not None and backup.probe_tables is not None:
                    expected = Probe(backup.probe_tables, backup.probe_rows)
                await rows.update(ctx.db, Operation, operation_id, probe=drill_summary(expected, found))
                problem = drill_problem(expected, found)
                if problem is not None:
                    raise DflowError(problem)
            finally:
                await asyncio.shield(destroy_throwaway(ctx, transport, operation_id, on_progress))

    return await run_operation(ctx, operation_id, body, on_progress)


async def destroy_throwaway(
    ctx: JobContext, transport: Transport, operation_id: int, on_progress: ProgressCallback | None = None
) -> bool:
    """Destroys the drill's throwaway service if this drill made it; True when it did."""
    operation = await rows.load(ctx.db, Operation, operation_id)
    name = operation.drill_service
    if (
        operation.kind != OperationKind.DRILL
        or name is None
        or operation.drill_created_at is None
        or name != throwaway_name(operation_id)
    ):
        return False
    backup = await rows.load(ctx.db, Backup, operation.backup_id)
    service = await rows.load(ctx.db, Service, backup.service_id)
    report(on_progress, f"drill of backup {backup.id}", f"destroying {name}")
    try:
        await must_run(
            transport, destroy_command(service.engine, name), f"Destroying {name}", CLEANUP_COMMAND_TIMEOUT
        )
    except Exception as error:
        log.warning("the drill's service %s is left: %s", name, error)
        return False
    await rows.update(ctx.db, Operation, operation_id, drill_created_at=None)
    return True


async def destroy_after_crash(ctx: JobContext, operation: Operation) -> None:
    """For stale cleanup: the throwaway service of a drill whose process died."""
    if operation.id is None or operation.drill_created_at is None:
        return
    backup = await rows.load(ctx.db, Backup, operation.backup_id)
    server = await rows.load(ctx.db, Server, backup.server_id)
    with contextlib.suppress(Exception):
        async with ctx.connect(server) as transport:
            await destroy_throwaway(ctx, transport, operation.id)
