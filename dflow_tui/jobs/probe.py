"""Counting what a database holds, through `dokku ENGINE:connect` (core.engines' probe):
in a drill's restored service, and beside the export of a service whose drills run on a
schedule, so that its drills compare their restore with the live service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from dflow_tui.core.engines import ENGINES, Probe, parse_probe
from dflow_tui.core.enums import Engine
from dflow_tui.core.errors import RemoteError
from dflow_tui.remote.dokku import connect_command
from dflow_tui.remote.transport import Transport
from dflow_tui.settings import PROBE_COMMAND_TIMEOUT, SHORT_COMMAND_TIMEOUT
from dflow_tui.store.tables import Service

log = logging.getLogger("dflow_tui.probe")


async def probe(
    transport: Transport, engine: str, name: str, timeout: float = SHORT_COMMAND_TIMEOUT
) -> Probe:
    """The counts; RemoteError when the service cannot be asked or the answer has none."""
    chosen = Engine(engine)
    result = await transport.run(
        connect_command(chosen, name),
        stdin=ENGINES[chosen].probe.encode() + b"\n",
        timeout=timeout,
    )
    found = parse_probe(chosen, result.text)
    if not result.ok or found is None:
        raise RemoteError(
            f"Could not count what {name} holds: {(result.stderr or '').strip()[-300:] or 'no answer'}"
        )
    return found


async def _live_figures(transport: Transport, service: Service) -> dict[str, Any]:
    try:
        found = await probe(transport, service.engine, service.name, PROBE_COMMAND_TIMEOUT)
    except Exception as error:
        log.info("no count of %s beside its export: %s", service.name, error)
        return {}
    return {"probe_tables": found.tables, "probe_rows": found.rows}


@contextlib.asynccontextmanager
async def counted_beside_export(
    transport: Transport, service: Service
) -> AsyncIterator[Callable[[], Awaitable[dict[str, Any]]]]:
    """Counts the live service while its export runs, for the backup's row — only when its
    drills run on a schedule: a count reads every table, a cost only those who drill pay.
    The export never waits for it (a count stuck behind a lock only loses its figures),
    and a backup never fails for it. Yields what to await, once exported, for the figures."""
    task = asyncio.create_task(_live_figures(transport, service)) if service.drill_every else None

    async def figures() -> dict[str, Any]:
        return await task if task is not None else {}

    try:
        yield figures
    finally:
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
