"""Reaching a server: the transport for a `ServerSpec`, and its SSH host key.

This is the one module of `remote` that knows both transports; nothing in
`remote` imports it (callers above do). `remote.ssh` and `remote.hostkeys` are
imported when a connection is actually opened, so importing this module does
not load asyncssh.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from dflow_tui.remote.local import LocalTransport
from dflow_tui.remote.transport import ServerSpec, Transport
from dflow_tui.settings import CONNECT_TIMEOUT


@asynccontextmanager
async def open_transport(
    spec: ServerSpec,
    *,
    known_hosts: Path | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    ssh_config: Sequence[str | Path] | None = None,
    idle_timeout: float | None = None,
) -> AsyncIterator[Transport]:
    """Connect to `spec` (or take this machine when `spec.local`), close on exit.

    known_hosts defaults to `settings.known_hosts_path()`; ssh_config to
    ~/.ssh/config (pass [] to read no OpenSSH config at all). A streamed command that
    sends or takes nothing for `idle_timeout` seconds is stopped (None: never).
    """
    transport: Transport
    if spec.local:
        transport = LocalTransport(idle_timeout=idle_timeout)
    else:
        from dflow_tui.remote.ssh import SSHTransport  # loads asyncssh: only when a server is reached

        transport = await SSHTransport.connect(
            spec,
            known_hosts=known_hosts,
            connect_timeout=connect_timeout,
            ssh_config=ssh_config,
            idle_timeout=idle_timeout,
        )
    try:
        yield transport
    finally:
        await transport.close()


async def fetch_host_key(
    spec: ServerSpec,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    ssh_config: Sequence[str | Path] | None = None,
) -> tuple[str, str]:
    """The server's host key: (`SHA256:...` fingerprint, `ALGO BASE64` line)."""
    from dflow_tui.remote import hostkeys  # loads asyncssh: only when a server is reached

    return await hostkeys.fetch_host_key(spec, connect_timeout=connect_timeout, ssh_config=ssh_config)


async def trust_host_key(
    spec: ServerSpec,
    known_hosts: Path | None = None,
    *,
    expected_fingerprint: str | None = None,
    replace: bool = False,
    connect_timeout: float = CONNECT_TIMEOUT,
    ssh_config: Sequence[str | Path] | None = None,
) -> str:
    """Add the server's current host key to known_hosts; returns its fingerprint.

    See `remote.hostkeys.trust_host_key`.
    """
    from dflow_tui.remote import hostkeys  # loads asyncssh: only when a server is reached

    return await hostkeys.trust_host_key(
        spec,
        known_hosts,
        expected_fingerprint=expected_fingerprint,
        replace=replace,
        connect_timeout=connect_timeout,
        ssh_config=ssh_config,
    )
