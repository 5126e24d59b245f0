"""Commands on a server over SSH (asyncssh).

One connection per transport; each command is its own session channel. The
SSH user's login shell starts in their home directory, reports its process
group on the first stderr line (hidden from callers) and execs `/bin/sh -c
COMMAND`, so commands get the same shell as on the `local` transport and a
kill (or a timeout) stops the whole process group on the server.

Host keys are always checked against known_hosts: an unknown key raises
HostKeyUnknown, a different key HostKeyChanged — never a silent accept.
~/.ssh/config applies (HostName, User, IdentityFile, ProxyJump, ...) unless
`ssh_config` says otherwise; ServerSpec.port and ServerSpec.user win over it.

Streams are bounded: asyncssh stops granting window to the server while our
stdout buffer is full, and stderr is drained into a fixed-size tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import asyncssh

from dflow_tui.core.errors import RemoteError
from dflow_tui.remote import hostkeys
from dflow_tui.remote.ssh_errors import connect_error, lost_error
from dflow_tui.remote.stderr_tail import StderrTail, status_from_signal
from dflow_tui.remote.transport import (
    CHUNK_SIZE,
    ExecResult,
    OutputCallback,
    ServerSpec,
    collect,
    short_command,
)
from dflow_tui.settings import CONNECT_TIMEOUT, known_hosts_path

KEEPALIVE_INTERVAL = 30.0
# asyncssh's own default order, with AES-GCM first: its AES-GCM is one call into OpenSSL per
# packet, its ChaCha20-Poly1305 several, and a dump is tens of thousands of packets
# (measured on a 512 MiB export: half the CPU, a third less time). A `Ciphers` line in the
# user's ssh config for the host is obeyed instead.
CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
)
KILLED_STATUS = 128 + 9
KILL_WAIT = 3.0
PGID_MARKER = "dflow-pgid:"


def load_client_key(key_path: str) -> list[asyncssh.SSHKeyPair]:
    """The private key (and its -cert.pub, if any) at key_path, or a RemoteError saying why not."""
    path = Path(key_path).expanduser()
    if not path.exists():
        raise RemoteError(f"SSH key file {key_path} does not exist")
    if not path.is_file():
        raise RemoteError(f"SSH key file {key_path} is not a file")
    try:
        return list(asyncssh.load_keypairs([str(path)]))
    except asyncssh.KeyImportError as exc:
        if "passphrase" in str(exc).lower():
            raise RemoteError(
                f"SSH key file {key_path} is protected by a passphrase: add it to "
                "ssh-agent and leave the key path empty, or use a key without one"
            ) from exc
        raise RemoteError(f"SSH key file {key_path} is not a usable private key: {exc}") from exc
    except OSError as exc:
        raise RemoteError(f"Cannot read SSH key file {key_path}: {exc.strerror or exc}") from exc


async def _options(host: str, kwargs: dict[str, Any]) -> asyncssh.SSHClientConnectionOptions:
    """The connection's options: CIPHERS first, unless the user's ssh config names its own
    `Ciphers` for this host (an explicit option would silently win over the config)."""
    options: asyncssh.SSHClientConnectionOptions = await asyncssh.SSHClientConnectionOptions.construct(
        host=host, **kwargs
    )
    if options.config.get("Ciphers") is None:
        options = await asyncssh.SSHClientConnectionOptions.construct(
            options=options, encryption_algs=CIPHERS
        )
    return options


def _host_key_rejected(exc: BaseException) -> bool:
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return True
    # known_hosts pins an algorithm the server no longer offers.
    return isinstance(exc, asyncssh.KeyExchangeFailed) and "host key" in str(exc.reason).lower()


def _exit_status(proc: asyncssh.SSHClientProcess[bytes], killed: bool, where: str, command: str) -> int:
    if proc.exit_signal:
        return status_from_signal(proc.exit_signal[0])
    status = proc.exit_status
    if killed:
        return status if status is not None and status > 0 else KILLED_STATUS
    if status is not None and status >= 0:
        return status
    raise RemoteError(
        f"Lost the SSH connection to {where} while running `{short_command(command)}`: "
        "no exit status came back"
    )


def wrap_command(command: str) -> str:
    """Run `command` with /bin/sh, after telling us (first stderr line) its process group.

    sshd starts every session command in a new session, so the login shell's PID
    is the process group of everything the command starts: killing that group
    stops a whole pipeline (`dokku ... | ...`, `docker exec ...`), which
    closing the channel or an SSH signal request (often refused by sshd) does not.
    """
    return f'echo "{PGID_MARKER}$$" >&2; exec /bin/sh -c {shlex.quote(command)}'


class SSHProcess:
    """A streaming command over SSH (implements `RemoteProcess`)."""

    def __init__(
        self,
        proc: asyncssh.SSHClientProcess[bytes],
        command: str,
        where: str,
        kill_group: Callable[[int], Awaitable[None]],
        on_output: OutputCallback | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        self._proc = proc
        self._idle_timeout = idle_timeout
        self._command = command
        self._where = where
        self._kill_group = kill_group
        self._killed = False
        self._kill_task: asyncio.Future[None] | None = None
        self._finished = False
        self._pgid: int | None = None
        self._pgid_known = asyncio.Event()
        self._tail = StderrTail(on_line=on_output)
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())

    @property
    def finished(self) -> bool:
        return self._finished

    async def _drain_stderr(self) -> None:
        head = b""
        try:
            while chunk := await self._proc.stderr.read(CHUNK_SIZE):
                if self._pgid_known.is_set():
                    self._tail.feed(chunk)
                    continue
                head += chunk
                if b"\n" in head or len(head) > 256:
                    line, newline, rest = head.partition(b"\n")
                    marker = PGID_MARKER.encode()
                    if newline and line.startswith(marker) and line[len(marker) :].isdigit():
                        self._pgid = int(line[len(marker) :])
                        self._tail.feed(rest)
                    else:
                        self._tail.feed(head)
                    head = b""
                    self._pgid_known.set()
        except Exception:
            pass
        finally:
            self._tail.feed(head)
            self._tail.end()
            self._pgid_known.set()

    def _lost(self, exc: BaseException) -> RemoteError:
        return lost_error(exc, where=self._where, doing=f"running `{short_command(self._command)}`")

    async def read(self, n: int = CHUNK_SIZE) -> bytes:
        if n <= 0:
            raise ValueError("read size must be positive")
        try:
            async with asyncio.timeout(self._idle_timeout):
                return await self._proc.stdout.read(n)
        except TimeoutError:
            self.kill()
            raise self._idle("sent nothing") from None
        except (asyncssh.Error, OSError) as exc:
            if self._killed:
                return b""
            raise self._lost(exc) from exc

    def _idle(self, doing: str) -> RemoteError:
        return RemoteError(
            f"`{short_command(self._command)}` {doing} for {self._idle_timeout:g}s on {self._where}: stopped it"
        )

    async def write(self, data: bytes) -> None:
        try:
            self._proc.stdin.write(data)
            async with asyncio.timeout(self._idle_timeout):
                await self._proc.stdin.drain()
        except TimeoutError:
            self.kill()
            raise self._idle("took no input") from None
        except BrokenPipeError as exc:
            raise RemoteError(
                f"`{short_command(self._command)}` stopped reading its input on {self._where}"
            ) from exc
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(exc) from exc

    async def write_eof(self) -> None:
        with contextlib.suppress(asyncssh.Error, OSError):
            self._proc.stdin.write_eof()

    async def wait(self) -> ExecResult:
        if self._kill_task is not None:
            await self._kill_task
        await self.write_eof()
        while await self.read(CHUNK_SIZE):
            pass  # unread output is discarded, in bounded memory
        await self._stderr_task
        await self._proc.wait_closed()
        self._finished = True
        status = _exit_status(self._proc, self._killed, self._where, self._command)
        return ExecResult(status, b"", self._tail.text())

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        with contextlib.suppress(asyncssh.Error, OSError):
            self._proc.kill()  # an SSH signal request; sshd may ignore it
        self._kill_task = asyncio.ensure_future(self._kill_tree())

    async def _kill_tree(self) -> None:
        """Kill the command's process group, then make sure the channel is gone."""
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pgid_known.wait(), KILL_WAIT)
            if self._pgid is not None and self._proc.exit_status is None:
                await self._kill_group(self._pgid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait_closed(), KILL_WAIT)
        finally:
            self._proc.close()

    async def killed(self) -> None:
        """Wait until a kill() has done all it can (returns at once if not killed)."""
        if self._kill_task is not None:
            await self._kill_task


class SSHTransport:
    """Runs commands on one server over one SSH connection (implements `Transport`)."""

    def __init__(
        self, conn: asyncssh.SSHClientConnection, spec: ServerSpec, idle_timeout: float | None = None
    ) -> None:
        self._conn = conn
        self.idle_timeout = idle_timeout
        self.spec = spec
        self.label = spec.address
        self._processes: set[SSHProcess] = set()

    @classmethod
    async def connect(
        cls,
        spec: ServerSpec,
        *,
        known_hosts: Path | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        ssh_config: Sequence[str | Path] | None = None,
        idle_timeout: float | None = None,
    ) -> SSHTransport:
        host = hostkeys.plain_host(spec)
        known_hosts_file = Path(known_hosts) if known_hosts is not None else known_hosts_path()
        kwargs: dict[str, Any] = {
            "port": spec.port,
            "known_hosts": hostkeys.read_known_hosts(known_hosts_file),
            "config": hostkeys.config_arg(ssh_config),
            "connect_timeout": connect_timeout,
            "keepalive_interval": KEEPALIVE_INTERVAL,
        }
        if spec.user:
            kwargs["username"] = spec.user
        if spec.key_path:
            kwargs["client_keys"] = load_client_key(spec.key_path)
        try:
            conn = await asyncssh.connect(host, options=await _options(host, kwargs))
        except Exception as exc:
            if _host_key_rejected(exc):
                raise await hostkeys.rejected_host_key(
                    spec,
                    known_hosts_file,
                    connect_timeout=connect_timeout,
                    ssh_config=ssh_config,
                ) from None
            user = spec.user
            if not user:
                user = (await hostkeys.resolve_target(spec, ssh_config)).user
            raise connect_error(
                exc,
                host=host,
                port=spec.port,
                user=user,
                key_path=spec.key_path,
                timeout=connect_timeout,
            ) from exc
        return cls(conn, spec, idle_timeout)

    async def _open(self, command: str) -> asyncssh.SSHClientProcess[bytes]:
        try:
            return await self._conn.create_process(wrap_command(command), encoding=None)
        except (asyncssh.Error, OSError) as exc:
            raise lost_error(exc, where=self.label, doing=f"starting `{short_command(command)}`") from exc

    async def _kill_group(self, pgid: int) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._conn.run(f"kill -s KILL -- -{int(pgid)}", check=False), KILL_WAIT)

    async def start(self, command: str, on_output: OutputCallback | None = None) -> SSHProcess:
        process = SSHProcess(
            await self._open(command), command, self.label, self._kill_group, on_output, self.idle_timeout
        )
        self._processes = {p for p in self._processes if not p.finished}
        self._processes.add(process)
        return process

    async def run(
        self,
        command: str,
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecResult:
        process = await self.start(command, on_output)
        try:
            what = f"`{short_command(command)}` on {self.label}"
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancel that lands as the
            # command ends, and the job asked to stop runs on.
            async with asyncio.timeout(timeout):
                return await collect(process, stdin, what=what)
        except TimeoutError:
            process.kill()
            await process.killed()
            raise RemoteError(
                f"`{short_command(command)}` timed out after {timeout:g}s on {self.label}"
            ) from None
        except BaseException:
            process.kill()
            raise

    async def close(self) -> None:
        """Kill commands still running, then close the connection."""
        running = [p for p in self._processes if not p.finished]
        for process in running:
            process.kill()
        if running:
            await asyncio.wait([asyncio.ensure_future(p.killed()) for p in running])
        self._conn.close()
        with contextlib.suppress(Exception):
            await self._conn.wait_closed()
