"""The `local` server: commands run on this machine with `/bin/sh -c`.

Same contract as the SSH transport: the working directory is the user's home
(so a relative backup directory resolves as it does over SSH), stdout is
streamed with bounded memory, stderr is kept as a bounded tail. Each command
runs in its own session (process group), so a kill reaches the whole pipeline
and a Ctrl-C in the terminal does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from asyncio.subprocess import DEVNULL, PIPE
from pathlib import Path

from dflow_tui.core.errors import RemoteError
from dflow_tui.remote.stderr_tail import StderrTail
from dflow_tui.remote.transport import CHUNK_SIZE, ExecResult, OutputCallback, collect, short_command

SHELL = "/bin/sh"


def _exit_status(returncode: int | None) -> int:
    if returncode is None:
        return 255
    return 128 - returncode if returncode < 0 else returncode


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


class LocalProcess:
    """A streaming command on this machine (implements `RemoteProcess`)."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        command: str,
        on_output: OutputCallback | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        self._proc = proc
        self._command = command
        self._idle_timeout = idle_timeout
        self._tail = StderrTail(on_line=on_output)
        assert proc.stderr is not None
        self._stderr_task = asyncio.ensure_future(self._tail.drain(proc.stderr.read))

    async def read(self, n: int = CHUNK_SIZE) -> bytes:
        if n <= 0:
            raise ValueError("read size must be positive")
        assert self._proc.stdout is not None
        try:
            async with asyncio.timeout(self._idle_timeout):
                return await self._proc.stdout.read(n)
        except TimeoutError:
            self.kill()
            raise self._idle("sent nothing") from None

    def _idle(self, doing: str) -> RemoteError:
        return RemoteError(
            f"`{short_command(self._command)}` {doing} for {self._idle_timeout:g}s on this machine: stopped it"
        )

    async def write(self, data: bytes) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            async with asyncio.timeout(self._idle_timeout):
                await self._proc.stdin.drain()
        except TimeoutError:
            self.kill()
            raise self._idle("took no input") from None
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise RemoteError(
                f"`{short_command(self._command)}` stopped reading its input on this machine"
            ) from exc

    async def write_eof(self) -> None:
        stdin = self._proc.stdin
        if stdin is None or stdin.is_closing():
            return
        stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await stdin.wait_closed()

    async def wait(self) -> ExecResult:
        await self.write_eof()
        assert self._proc.stdout is not None
        while await self._proc.stdout.read(CHUNK_SIZE):
            pass  # unread output is discarded, in bounded memory
        await self._stderr_task
        returncode = await self._proc.wait()
        return ExecResult(_exit_status(returncode), b"", self._tail.text())

    def kill(self) -> None:
        _kill_group(self._proc)


class LocalTransport:
    """Runs commands on this machine (implements `Transport`)."""

    label = "local"

    def __init__(self, cwd: Path | None = None, idle_timeout: float | None = None) -> None:
        self._cwd = cwd
        self.idle_timeout = idle_timeout
        self._running: set[asyncio.subprocess.Process] = set()

    @property
    def cwd(self) -> Path:
        return self._cwd if self._cwd is not None else Path.home()

    async def _spawn(self, command: str, stdin: int) -> asyncio.subprocess.Process:
        try:
            proc = await asyncio.create_subprocess_exec(
                SHELL,
                "-c",
                command,
                stdin=stdin,
                stdout=PIPE,
                stderr=PIPE,
                cwd=self.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise RemoteError(f"Cannot start {SHELL} on this machine: {exc}") from exc
        self._running = {p for p in self._running if p.returncode is None}
        self._running.add(proc)
        return proc

    async def run(
        self,
        command: str,
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecResult:
        proc = await self._spawn(command, PIPE if stdin is not None else DEVNULL)
        try:  # streamed: each stderr line is handed over as it comes, stdout is capped
            what = f"`{short_command(command)}` on this machine"
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancel that lands as the
            # command ends, and the job asked to stop runs on.
            async with asyncio.timeout(timeout):
                collected = await collect(LocalProcess(proc, command, on_output), stdin, what=what)
        except TimeoutError:
            _kill_group(proc)
            await proc.wait()
            raise RemoteError(
                f"`{short_command(command)}` timed out after {timeout:g}s on this machine"
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
        return collected

    async def start(self, command: str, on_output: OutputCallback | None = None) -> LocalProcess:
        return LocalProcess(await self._spawn(command, PIPE), command, on_output, self.idle_timeout)

    async def close(self) -> None:
        for proc in list(self._running):
            _kill_group(proc)
