"""Running one server command that must succeed, with its failure put in words."""

from __future__ import annotations

from collections.abc import Callable

from dflow_tui.core.errors import RemoteError
from dflow_tui.jobs.failure import command_failure
from dflow_tui.remote.transport import ExecResult, Transport
from dflow_tui.settings import SHORT_COMMAND_TIMEOUT


async def must_run(
    transport: Transport,
    command: str,
    what: str,
    timeout: float = SHORT_COMMAND_TIMEOUT,
    on_output: Callable[[str], None] | None = None,
) -> ExecResult:
    result = await transport.run(command, timeout=timeout, on_output=on_output)
    if not result.ok:
        raise RemoteError(command_failure(what, result.stderr, result.exit_status))
    return result
