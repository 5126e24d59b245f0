"""Turning what asyncssh and the network raise into one clear sentence."""

from __future__ import annotations

import socket

import asyncssh

from dflow_tui.core.errors import RemoteError
from dflow_tui.core.safe_text import printable


def _said(message: str) -> RemoteError:
    """A RemoteError whose text, partly from the server or the network, is safe to show."""
    return RemoteError(printable(message))


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
        return _said(
            f"SSH login as {user}@{host} refused: check that {key} is in "
            f"~{user}/.ssh/authorized_keys on the server"
        )
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):  # classified by the caller normally
        return _said(f"Host key of {where} is not trusted: {exc.reason}")
    if isinstance(exc, asyncssh.ConnectionLost):
        return _said(f"SSH connection to {where} was closed by the server: {exc.reason}")
    if isinstance(exc, asyncssh.DisconnectError):
        return _said(f"SSH connection to {where} failed: {exc.reason}")
    if isinstance(exc, TimeoutError):
        limit = f" after {timeout:g}s" if timeout else ""
        return _said(f"Cannot reach {where}: timed out{limit}")
    if isinstance(exc, socket.gaierror):
        return _said(f"Cannot reach {where}: unknown host name ({exc.strerror or exc})")
    if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return _said(f"Cannot reach {where}: connection refused")
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        return _said(f"Cannot reach {where}: {reason}")
    if isinstance(exc, (asyncssh.KeyImportError, ValueError)):
        return _said(f"SSH settings for {where} are not usable: {exc}")
    return _said(f"SSH connection to {where} failed: {exc}")


def lost_error(exc: BaseException, *, where: str, doing: str) -> RemoteError:
    """The RemoteError for a connection/channel that broke while `doing` something."""
    if isinstance(exc, RemoteError):
        return exc
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return _said(f"Lost the SSH connection to {where} while {doing}: {reason}")
