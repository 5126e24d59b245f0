"""Turning any exception into the one sentence recorded on a failed row."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from dflow_tui.core.errors import STOPPED_BY, Cancelled, DflowError
from dflow_tui.core.redact import redact

MAX_ERROR_LENGTH = 2000


def failure_text(
    error: BaseException, secrets: Iterable[str] = (), *, cancelled_by: str | None = None
) -> str:
    if isinstance(error, asyncio.CancelledError) and cancelled_by:
        text = str(Cancelled(cancelled_by))
    elif isinstance(error, asyncio.CancelledError):
        text = _stop_reason(error) or "Cancelled before it finished"
    elif isinstance(error, DflowError):
        text = str(error)
    elif isinstance(error, OSError):
        text = f"{type(error).__name__}: {error}"
    else:
        text = f"Unexpected error ({type(error).__name__}): {error}"
    return redact(text, secrets)[:MAX_ERROR_LENGTH]


def _stop_reason(error: asyncio.CancelledError) -> str | None:
    """`Stopped by SIGTERM` and the like, when a face cancelled the job for a signal."""
    reason = error.args[0] if error.args else None
    return reason if isinstance(reason, str) and reason.startswith(STOPPED_BY) else None


def command_failure(what: str, stderr: str, exit_status: int) -> str:
    """The last meaningful lines of a failed command's stderr."""
    # Dokku marks its errors with a leading " !     "; the reader needs only the words.
    lines = [line.strip().lstrip("!").strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    detail = " / ".join(lines[-3:]) if lines else f"exit status {exit_status}"
    return f"{what} failed: {detail}"
