"""Server host keys: fetching them, telling unknown from changed, trusting them.

known_hosts is read and written in OpenSSH's format (hashed entries are matched
too). A host on a port other than 22 is written as `[host]:port`, as OpenSSH
does. Names are the ones ~/.ssh/config resolves to (HostName, HostKeyAlias).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from dflow_tui.core.errors import HostKeyChanged, HostKeyUnknown, RemoteError
from dflow_tui.remote.ssh_errors import connect_error
from dflow_tui.remote.transport import ServerSpec
from dflow_tui.settings import CONNECT_TIMEOUT, DEFAULT_SSH_PORT, known_hosts_path


@dataclass(frozen=True)
class Target:
    """Where a spec really leads once ~/.ssh/config is applied."""

    host: str  # as given in the spec (for messages)
    port: int
    user: str
    key_host: str  # the name known_hosts entries are looked up by


def config_arg(ssh_config: Sequence[str | Path] | None) -> tuple[()] | list[str]:
    """asyncssh's `config` argument: () means ~/.ssh/config, a list means exactly those."""
    if ssh_config is None:
        return ()
    return [str(Path(p).expanduser()) for p in ssh_config]


def plain_host(spec: ServerSpec) -> str:
    if not spec.host:
        raise RemoteError(f"Server {spec.name} has no host set")
    return spec.host.strip("[]")


async def resolve_target(spec: ServerSpec, ssh_config: Sequence[str | Path] | None) -> Target:
    host = plain_host(spec)
    kwargs: dict[str, Any] = {
        "host": host,
        "port": spec.port,
        "config": config_arg(ssh_config),
        "known_hosts": None,
        "client_keys": None,
        "agent_path": None,
        "agent_identities": None,
    }
    if spec.user:
        kwargs["username"] = spec.user
    try:
        options = await asyncssh.SSHClientConnectionOptions.construct(**kwargs)
    except (OSError, ValueError, asyncssh.Error):
        # An unreadable config must not hide the real error: fall back to the spec.
        return Target(host, spec.port, spec.user or getpass.getuser(), host)
    return Target(
        host=host,
        port=options.port,
        user=options.username,
        key_host=options.host_key_alias or options.host,
    )


def host_pattern(host: str, port: int) -> str:
    """`host`, or `[host]:port` off port 22 (known_hosts syntax)."""
    host = host.strip("[]")
    return host if port == DEFAULT_SSH_PORT else f"[{host}]:{port}"


def public_key_line(key: asyncssh.SSHKey) -> str:
    """`ALGORITHM BASE64` (no comment) of a public key."""
    algorithm, data, *_ = key.export_public_key("openssh").decode("ascii").split()
    return f"{algorithm} {data}"


def fingerprint(key: asyncssh.SSHKey) -> str:
    return key.get_fingerprint("sha256")


def read_known_hosts(path: Path) -> asyncssh.SSHKnownHosts:
    """The entries of a known_hosts file; a missing file holds none.

    (Always an object, never b'' or a path: asyncssh would treat an empty
    value as "use ~/.ssh/known_hosts" instead.)
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise RemoteError(f"Cannot read known_hosts file {path}: {exc.strerror}") from exc
    return asyncssh.import_known_hosts(text)


def _port_arg(port: int) -> int | None:
    return None if port == DEFAULT_SSH_PORT else port


def trusted_keys(
    known: asyncssh.SSHKnownHosts, target: Target
) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]:
    """(host keys, CA keys, revoked keys) known_hosts holds for the target."""
    host_keys, ca_keys, revoked, *_ = known.match(target.key_host, "", _port_arg(target.port))
    return list(host_keys), list(ca_keys), list(revoked)


async def server_key(
    spec: ServerSpec,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    ssh_config: Sequence[str | Path] | None = None,
) -> asyncssh.SSHKey:
    """The host key the server presents (with the algorithms a first connect would pick)."""
    host = plain_host(spec)
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(host, spec.port, config=config_arg(ssh_config)),
            connect_timeout,
        )
    except Exception as exc:
        raise connect_error(
            exc,
            host=host,
            port=spec.port,
            user=spec.user or getpass.getuser(),
            key_path=spec.key_path,
            timeout=connect_timeout,
        ) from exc
    if key is None:
        raise RemoteError(f"{host}:{spec.port} did not present a host key")
    return key


async def fetch_host_key(
    spec: ServerSpec,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    ssh_config: Sequence[str | Path] | None = None,
) -> tuple[str, str]:
    """(`SHA256:...` fingerprint, `ALGORITHM BASE64` public key line) of the server."""
    if spec.local:
        raise RemoteError(f"Server {spec.name} is this machine: it has no SSH host key to check")
    key = await server_key(spec, connect_timeout=connect_timeout, ssh_config=ssh_config)
    return fingerprint(key), public_key_line(key)


async def rejected_host_key(
    spec: ServerSpec,
    known_hosts: Path,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    ssh_config: Sequence[str | Path] | None = None,
) -> RemoteError:
    """After the server's host key was not accepted: HostKeyUnknown or HostKeyChanged."""
    host = plain_host(spec)
    target = await resolve_target(spec, ssh_config)
    host_keys, ca_keys, _revoked = trusted_keys(read_known_hosts(known_hosts), target)
    try:
        key = await server_key(spec, connect_timeout=connect_timeout, ssh_config=ssh_config)
        seen = fingerprint(key)
    except RemoteError:
        seen = "fingerprint unavailable"
    if host_keys or ca_keys:
        return HostKeyChanged(host, spec.port, seen)
    return HostKeyUnknown(host, spec.port, seen)


def _contains(keys: list[asyncssh.SSHKey], key: asyncssh.SSHKey) -> bool:
    return any(k.public_data == key.public_data for k in keys)


def _line_is_for(line: str, target: Target) -> bool:
    """Whether a known_hosts line holds a plain host key for exactly this host and port."""
    try:
        known = asyncssh.import_known_hosts(line)
    except (ValueError, asyncssh.Error):
        return False
    port = _port_arg(target.port)
    host_keys = known.match(target.key_host, "", port)[0]
    if not host_keys:
        return False
    if port is None:
        return True
    # Off port 22, a bare `host` line also matches (fallback); it belongs to port 22.
    return not known.match(target.key_host, "", None)[0]


def _write_private(path: Path, text: str) -> None:
    """Replace a file atomically, mode 0600."""
    fd, tmp = tempfile.mkstemp(prefix=".known_hosts.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _append_private(path: Path, line: str) -> None:
    existing = path.read_bytes() if path.exists() else b""
    prefix = "\n" if existing and not existing.endswith(b"\n") else ""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(prefix + line)


async def trust_host_key(
    spec: ServerSpec,
    known_hosts: Path | None = None,
    *,
    expected_fingerprint: str | None = None,
    replace: bool = False,
    connect_timeout: float = CONNECT_TIMEOUT,
    ssh_config: Sequence[str | Path] | None = None,
) -> str:
    """Add the server's current host key to known_hosts; return its fingerprint.

    - expected_fingerprint: the fingerprint the user checked; if the server now
      shows another one, nothing is written and RemoteError is raised.
    - A host already trusted with this key: nothing is written.
    - A host trusted with a different key: HostKeyChanged, unless replace=True,
      which drops the old entries for this host (and port) first.
    The file and its directory are created 0600/0700 when missing.
    """
    if spec.local:
        raise RemoteError(f"Server {spec.name} is this machine: it has no SSH host key to trust")
    path = Path(known_hosts) if known_hosts is not None else known_hosts_path()
    host = plain_host(spec)
    key = await server_key(spec, connect_timeout=connect_timeout, ssh_config=ssh_config)
    seen = fingerprint(key)
    if expected_fingerprint is not None and expected_fingerprint.strip() != seen:
        raise RemoteError(
            f"Host key of {host}:{spec.port} is now {seen}, not the "
            f"{expected_fingerprint.strip()} you checked; nothing was trusted"
        )
    target = await resolve_target(spec, ssh_config)
    host_keys, _ca_keys, revoked = trusted_keys(read_known_hosts(path), target)
    if _contains(revoked, key):
        raise RemoteError(f"Host key {seen} of {host}:{spec.port} is marked @revoked in {path}")
    if _contains(host_keys, key):
        return seen
    if host_keys and not replace:
        raise HostKeyChanged(host, spec.port, seen)

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    entry = f"{host_pattern(target.key_host, target.port)} {public_key_line(key)}\n"
    if host_keys:  # replace=True
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not _line_is_for(line, target)]
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += "\n"
        _write_private(path, "".join(kept) + entry)
    else:
        _append_private(path, entry)
    return seen
