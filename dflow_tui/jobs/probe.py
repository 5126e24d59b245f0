"""Counting what a database holds, through `dokku ENGINE:connect` (core.engines' probe):
at backup time on the live service, so that a drill can compare its restore with it."""

from __future__ import annotations

import logging
from typing import Any

from dflow_tui.core.engines import ENGINES, Probe, parse_probe
from dflow_tui.core.enums import Engine
from dflow_tui.core.errors import RemoteError
from dflow_tui.remote.dokku import connect_command
from dflow_tui.remote.transport import Transport
from dflow_tui.settings import SHORT_COMMAND_TIMEOUT

log = logging.getLogger("dflow_tui.probe")


async def probe(transport: Transport, engine: str, name: str) -> Probe:
    """The counts; RemoteError when the service cannot be asked or the answer has none."""
    chosen = Engine(engine)
    result = await transport.run(
        connect_command(chosen, name),
        stdin=ENGINES[chosen].probe.encode() + b"\n",
        timeout=SHORT_COMMAND_TIMEOUT,
    )
    found = parse_probe(chosen, result.text)
    if not result.ok or found is None:
        raise RemoteError(
            f"Could not count what {name} holds: {(result.stderr or '').strip()[-300:] or 'no answer'}"
        )
    return found


async def live_figures(transport: Transport, engine: str, name: str) -> dict[str, Any]:
    """For the backup's row: the live service's counts just before its export; nothing
    when it cannot be asked (a backup never fails for it)."""
    try:
        found = await probe(transport, engine, name)
    except Exception as error:
        log.info("no figures for %s before its export: %s", name, error)
        return {}
    return {"probe_tables": found.tables, "probe_rows": found.rows}
