"""How commands reach a server: the contract both transports keep.

Commands are shell command strings whose every variable part was validated and
`shlex.quote`d by `remote.dokku` / `remote.files`. Both transports run them with
`/bin/sh -c` in the user's home directory (over SSH: the login shell starts
there and execs `/bin/sh -c`), so a relative backup directory resolves the same
way on both. Killing a command (or a run timeout) kills its whole process group.

The implementations live next door — `remote.ssh` (asyncssh) and `remote.local`
(asyncio subprocesses) — and `remote.connect` picks one. This module imports
neither: every module of `remote` may import it, and it imports nothing of
`remote` back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dflow_tui.core.errors import RemoteError
from dflow_tui.core.safe_text import printable
from dflow_tui.settings import DEFAULT_SSH_PORT, MAX_COLLECTED_OUTPUT

STDERR_KEEP_BYTES = 64 * 1024
CHUNK_SIZE = 64 * 1024

OutputCallback = Callable[[str], None]
"""Gets each stderr line of a command as the command writes it."""


def short_command(command: str, limit: int = 80) -> str:
    """A command on one line, cut to `limit` characters, for messages."""
    one_line = " ".join(command.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


@dataclass(frozen=True)
class ServerSpec:
    """What is needed to reach one server."""

    name: str
    local: bool = False
    host: str | None = None
    port: int = DEFAULT_SSH_PORT
    user: str | None = None
    key_path: str | None = None

    @property
    def address(self) -> str:
        """`host:port` as shown in messages (`local` for this machine)."""
        if self.local:
            return "local"
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ExecResult:
    exit_status: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def text(self) -> str:
        """stdout decoded as UTF-8 (invalid bytes replaced), safe to show: no escape
        sequence or control character (see core.safe_text)."""
        return printable(self.stdout.decode("utf-8", errors="replace"))

    def error_line(self) -> str:
        """A one-line summary of a failure: the last non-empty stderr line."""
        for line in reversed(self.stderr.splitlines()):
            if line.strip():
                return line.strip()
        return f"exit status {self.exit_status}"


class RemoteProcess(Protocol):
    """A running command whose stdin/stdout are streamed (bounded memory).

    stderr is drained in the background into a bounded tail (the last
    `STDERR_KEEP_BYTES`), so a chatty command never stalls the stdout stream.
    """

    async def read(self, n: int = CHUNK_SIZE) -> bytes:
        """Next chunk of stdout (at most n bytes); b'' at EOF."""

    async def write(self, data: bytes) -> None:
        """Send data to stdin, waiting while the other side is not keeping up."""

    async def write_eof(self) -> None: ...

    async def wait(self) -> ExecResult:
        """Exit status and stderr (stdout=b'' here, it was streamed).

        Any stdout not read yet is read and discarded first.
        """

    def kill(self) -> None:
        """Kill the command (and close its streams); wait() still works afterwards."""


async def collect(
    process: RemoteProcess,
    stdin: bytes | None = None,
    *,
    what: str = "the command",
    max_output: int = MAX_COLLECTED_OUTPUT,
) -> ExecResult:
    """The whole of a short command: feeds `stdin` while reading stdout to its end,
    then its exit status and stderr. More than `max_output` bytes of stdout stops the
    command and raises RemoteError: a short command never fills memory."""

    async def feed() -> None:
        if stdin:
            await process.write(stdin)
        await process.write_eof()

    feeder = asyncio.ensure_future(feed())
    try:
        chunks = []
        size = 0
        while chunk := await process.read():
            size += len(chunk)
            if size > max_output:
                process.kill()
                raise RemoteError(
                    f"{what} wrote more than {max_output // (1024 * 1024)} MiB of output: stopped it"
                )
            chunks.append(chunk)
        result = await process.wait()
    finally:
        feeder.cancel()
    with contextlib.suppress(asyncio.CancelledError, RemoteError):
        await feeder  # a command that stopped reading its input is judged by its exit status
    return ExecResult(result.exit_status, b"".join(chunks), result.stderr)


class Transport(Protocol):
    label: str
    """Where commands run, for messages: `host:port` or `local`."""

    async def run(
        self,
        command: str,
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecResult:
        """Run to completion; stdout kept in memory (small outputs only).

        A timeout kills the command and raises RemoteError. `on_output` gets each
        stderr line as the command writes it.
        """

    async def start(self, command: str, on_output: OutputCallback | None = None) -> RemoteProcess: ...

    async def close(self) -> None: ...
