"""What every job needs: the state database, the clock, a way to reach servers."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from dflow_tui.core.clock import Clock
from dflow_tui.core.enums import WorkerKind
from dflow_tui.core.policy import owner_id
from dflow_tui.core.redact import redact
from dflow_tui.core.views import Progress
from dflow_tui.jobs.heartbeat import Heartbeat, JobKey
from dflow_tui.remote.connect import open_transport
from dflow_tui.remote.transport import ServerSpec, Transport
from dflow_tui.settings import Settings
from dflow_tui.store.db import Database
from dflow_tui.store.tables import Server

ProgressCallback = Callable[[Progress], None]


def server_spec(server: Server) -> ServerSpec:
    return ServerSpec(
        name=server.name,
        local=server.local,
        host=server.host,
        port=server.port,
        user=server.user,
        key_path=server.key_path,
    )


def process_id(kind: WorkerKind) -> str:
    """This process, as the jobs it runs name their owner (see policy.describe_owner)."""
    return owner_id(kind, socket.gethostname(), os.getpid())


@dataclass
class JobContext:
    db: Database
    clock: Clock
    settings: Settings
    worker_id: str = field(default_factory=lambda: process_id(WorkerKind.CLI))
    # Secret values this process has handled, so no error text can carry them.
    secrets: set[str] = field(default_factory=set)
    # Heartbeats of the jobs running in this process, by ("backup"/"operation", id).
    heartbeats: dict[JobKey, Heartbeat] = field(default_factory=dict)
    # Private keys given to this process for one restore each, by operation id: held in
    # memory for the job, never written anywhere.
    identities: dict[int, str] = field(default_factory=dict)

    def connect(self, server: Server) -> AbstractAsyncContextManager[Transport]:
        return open_transport(
            server_spec(server),
            known_hosts=self.settings.known_hosts,
            connect_timeout=self.settings.connect_timeout,
            idle_timeout=self.settings.stream_idle_timeout,
        )


def report(
    on_progress: ProgressCallback | None,
    job: str,
    message: str,
    *,
    done_bytes: int | None = None,
    total_bytes: int | None = None,
) -> None:
    if on_progress is not None:
        on_progress(Progress(job=job, message=message, done_bytes=done_bytes, total_bytes=total_bytes))


def output_reporter(
    ctx: JobContext, on_progress: ProgressCallback | None, job: str, step: str
) -> Callable[[str], None] | None:
    """Hands each stderr line of a server command to the face, under the step it belongs to."""
    if on_progress is None:
        return None

    def on_output(line: str) -> None:
        on_progress(Progress(job=job, message=step, output=redact(line, ctx.secrets)))

    return on_output
