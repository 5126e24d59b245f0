"""Running one server command that must succeed, with its failure put in words; and
streaming a dump into a new file on a server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from dflow_tui.core.errors import RemoteError
from dflow_tui.jobs.failure import command_failure
from dflow_tui.remote import files
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


async def write_file(transport: Transport, path: str, chunks: AsyncIterator[bytes]) -> None:
    """Streams `chunks` into `path` on the server, a new private file (refused when it is
    there already); the server's own words when it could not write it. On an error or a
    cancel on this side, the writing command is killed."""
    process = await transport.start(files.receive_to_file(path))
    try:
        async for chunk in chunks:
            await process.write(chunk)
        await process.write_eof()
    except BaseException:
        process.kill()
        raise
    done = await process.wait()
    if not done.ok:
        raise RemoteError(command_failure("Writing the dump on the server", done.stderr, done.exit_status))
