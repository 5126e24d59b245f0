"""Turning what asyncssh and the network raise into one clear sentence."""

from __future__ import annotations

import socket

import asyncssh

from dflow_tui.core.errors import RemoteError


def connect_error(
    exc: BaseException,
    *,
    host: str,
    port: int,
    user: str,
    key_path: str | None,
    timeout: float | None,
) -> RemoteError:
    """The RemoteError to raise when connecting to host:port failed with `exc`."""
    where = f"{host}:{port}"
    if isinstance(exc, RemoteError):
        return exc
    if isinstance(exc, asyncssh.PermissionDenied):
        key = f"the key {key_path}" if key_path else "a key from your SSH agent or ~/.ssh"
        return RemoteError(
            f"SSH login as {user}@{host} refused: check that {key} is in "
            f"~{user}/.ssh/authorized_keys on the server"
        )
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):  # classified by the caller normally
        return RemoteError(f"Host key of {where} is not trusted: {exc.reason}")
    if isinstance(exc, asyncssh.ConnectionLost):
        return RemoteError(f"SSH connection to {where} was closed by the server: {exc.reason}")
    if isinstance(exc, asyncssh.DisconnectError):
        return RemoteError(f"SSH connection to {where} failed: {exc.reason}")
    if isinstance(exc, TimeoutError):
        limit = f" after {timeout:g}s" if timeout else ""
        return RemoteError(f"Cannot reach {where}: timed out{limit}")
    if isinstance(exc, socket.gaierror):
        return RemoteError(f"Cannot reach {where}: unknown host name ({exc.strerror or exc})")
    if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return RemoteError(f"Cannot reach {where}: connection refused")
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        return RemoteError(f"Cannot reach {where}: {reason}")
    if isinstance(exc, (asyncssh.KeyImportError, ValueError)):
        return RemoteError(f"SSH settings for {where} are not usable: {exc}")
    return RemoteError(f"SSH connection to {where} failed: {exc}")


def lost_error(exc: BaseException, *, where: str, doing: str) -> RemoteError:
    """The RemoteError for a connection/channel that broke while `doing` something."""
    if isinstance(exc, RemoteError):
        return exc
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return RemoteError(f"Lost the SSH connection to {where} while {doing}: {reason}")
