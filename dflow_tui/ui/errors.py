"""Failures as sentences: what a user reads when an action or a worker fails."""

from __future__ import annotations

from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

from dflow_tui.core.errors import Conflict, DflowError, NoServer, NotAllowed

# Nothing was tried: a rule or running work said no. Titled as refusals, not failures.
REFUSALS = (NotAllowed, Conflict, NoServer)

MAX_UNEXPECTED_LENGTH = 300


def error_message(error: BaseException | None) -> str:
    """What the user reads about a failure: a DflowError says it itself."""
    if isinstance(error, DflowError):
        return str(error)
    detail = f"{type(error).__name__}: {error}" if error is not None else "unknown failure"
    if len(detail) > MAX_UNEXPECTED_LENGTH:
        detail = detail[: MAX_UNEXPECTED_LENGTH - 1] + "…"
    return f"Unexpected error: {detail}"


def notify_worker_error(node: DOMNode, event: Worker.StateChanged) -> bool:
    """Turns a failed worker into an error notification (harlequin's pattern).

    Returns True when the worker had failed. `Worker.StateChanged` does not bubble,
    so every screen that runs workers calls this from its own handler.
    """
    if event.state is not WorkerState.ERROR:
        return False
    worker = event.worker
    node.log.error(f"{worker.description} failed", worker.error)
    refused = isinstance(worker.error, REFUSALS)
    node.app.notify(
        error_message(worker.error),
        title=f"{worker.description}: refused" if refused else f"{worker.description} failed",
        severity="warning" if refused else "error",
        markup=False,
        timeout=10,
    )
    return True
