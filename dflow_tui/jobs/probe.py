"""Counting what a database holds, through `dokku ENGINE:connect` (core.engines' probe):
in a drill's restored service, and on the live service beside each export, so that a
drill compares its restore with what the service held when the backup was taken."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from dflow_tui.core.engines import ENGINES, Probe, live_probe, parse_probe
from dflow_tui.core.enums import Engine
from dflow_tui.core.errors import RemoteError
from dflow_tui.remote.dokku import connect_command
from dflow_tui.remote.transport import Transport
from dflow_tui.settings import PROBE_COMMAND_TIMEOUT, SHORT_COMMAND_TIMEOUT
from dflow_tui.store.tables import Service

log = logging.getLogger("dflow_tui.probe")


async def probe(
    transport: Transport,
    engine: str,
    name: str,
    *,
    live: bool = False,
    timeout: float = SHORT_COMMAND_TIMEOUT,
) -> Probe:
    """The counts; RemoteError when the service cannot be asked or the answer has none.
    `live`: the bounded count for a live service (core.engines.live_probe)."""
    chosen = Engine(engine)
    text = live_probe(chosen) if live else ENGINES[chosen].probe
    result = await transport.run(connect_command(chosen, name), stdin=text.encode() + b"\n", timeout=timeout)
    found = parse_probe(chosen, result.text)
    if not result.ok or found is None:
        raise RemoteError(
            f"Could not count what {name} holds: {(result.stderr or '').strip()[-300:] or 'no answer'}"
        )
    return found


async def _live_figures(transport: Transport, service: Service) -> dict[str, Any]:
    try:
        found = await probe(transport, service.engine, service.name, live=True, timeout=PROBE_COMMAND_TIMEOUT)
    except Exception as error:
        log.info("no count of %s beside its export: %s", service.name, error)
        return {}
    return {"probe_tables": found.tables, "probe_rows": found.rows}


@contextlib.asynccontextmanager
async def counted_beside_export(
    transport: Transport, service: Service
) -> AsyncIterator[Callable[[], Awaitable[dict[str, Any]]]]:
    """Counts the live service while its export runs, for the backup's row. The export
    never waits for it (a count stuck behind a lock only loses its figures), the database
    gives it up after a minute where it can (a count reads every table), and a backup
    never fails for it. Yields what to await, once exported, for the figures."""
    task = asyncio.create_task(_live_figures(transport, service))

    async def figures() -> dict[str, Any]:
        return await task

    try:
        yield figures
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
