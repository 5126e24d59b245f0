"""The fleet as Prometheus metrics: `dflow-tui metrics` prints them for node_exporter's
textfile collector.

Per service: when it last succeeded, how long and how large that backup was, its
recovery point and its state; overall: backups by result, jobs running and queued.
The numbers come from the same reads as the Fleet view (a few queries whatever the
fleet's size); prometheus_client writes the text format.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dflow_tui.core.enums import RecoveryState
from dflow_tui.core.errors import DflowError
from dflow_tui.core.views import FleetRow
from dflow_tui.service.fleet import Fleet
from dflow_tui.store.queries import fleet as fleet_queries

if TYPE_CHECKING:
    from prometheus_client.core import Metric


@dataclass(frozen=True)
class Snapshot:
    rows: list[FleetRow]
    durations: dict[int, float]  # service id → seconds its newest success took
    by_status: dict[str, int]
    running: int
    queued: int


class Metrics:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    async def snapshot(self) -> Snapshot:
        rows = await self.fleet.rows()
        async with self.fleet.ctx.db.reading() as session:
            durations = await fleet_queries.last_durations(session)
            by_status, running, queued = await fleet_queries.backup_counts(session)
        return Snapshot(rows, durations, by_status, running, queued)

    @contextlib.asynccontextmanager
    async def serving(self, host: str, port: int) -> AsyncIterator[None]:
        """`/metrics` over HTTP on host:port while the block runs (`worker --metrics-port`);
        each scrape reads a fresh snapshot."""
        from aiohttp import web  # the S3 client's HTTP library, only loaded when serving

        async def metrics(_request: web.Request) -> web.Response:
            body = await self.exposition()
            return web.Response(
                body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
            )

        application = web.Application()
        application.router.add_get("/metrics", metrics)
        runner = web.AppRunner(application, access_log=None)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError as error:
                raise DflowError(
                    f"Cannot serve metrics on {host}:{port}: {error.strerror or error}"
                ) from None
            yield
        finally:
            await runner.cleanup()

    async def exposition(self) -> bytes:
        """The Prometheus text format of a fresh snapshot."""
        from prometheus_client import CollectorRegistry, generate_latest  # only when asked

        snapshot = await self.snapshot()

        class Collected:
            def collect(self) -> list[Metric]:
                return families(snapshot)

        registry = CollectorRegistry(auto_describe=False)
        registry.register(Collected())  # a collector is anything with collect()
        return generate_latest(registry)


def families(shot: Snapshot) -> list[Metric]:
    from prometheus_client.core import GaugeMetricFamily, StateSetMetricFamily

    labels = ["service"]
    success = GaugeMetricFamily(
        "dflow_backup_last_success_timestamp_seconds",
        "When the newest kept backup succeeded.",
        labels=labels,
    )
    duration = GaugeMetricFamily(
        "dflow_backup_last_duration_seconds", "How long the newest successful backup took.", labels=labels
    )
    size = GaugeMetricFamily(
        "dflow_backup_last_size_bytes", "Stored size of the newest backup.", labels=labels
    )
    rpo = GaugeMetricFamily(
        "dflow_backup_rpo_seconds",
        "How old the newest success may be before the service is late.",
        labels=labels,
    )
    state = StateSetMetricFamily("dflow_backup_state", "The service's recovery point state.", labels=labels)
    proven = GaugeMetricFamily(
        "dflow_restore_drill_last_success_timestamp_seconds",
        "When the newest passed restore drill ended (the service was proven restorable).",
        labels=labels,
    )
    drill_failed = GaugeMetricFamily(
        "dflow_restore_drill_failed", "1 when the newest restore drill failed.", labels=labels
    )
    for row in shot.rows:
        path = [row.path]
        if row.last_success is not None:
            success.add_metric(path, row.last_success.timestamp())
        if row.service.id in shot.durations:
            duration.add_metric(path, shot.durations[row.service.id])
        if row.last_size is not None:
            size.add_metric(path, row.last_size)
        if row.rpo is not None:
            rpo.add_metric(path, row.rpo.total_seconds())
        state.add_metric(path, {s.value: s.value == row.state for s in RecoveryState})
        if row.proven_at is not None:
            proven.add_metric(path, row.proven_at.timestamp())
        if row.proven_at is not None or row.drill_failed:
            drill_failed.add_metric(path, 1 if row.drill_failed else 0)
    backups = GaugeMetricFamily("dflow_backups", "Backups recorded, by status.", labels=["status"])
    for status, count in sorted(shot.by_status.items()):
        backups.add_metric([status], count)
    jobs = GaugeMetricFamily(
        "dflow_backup_jobs", "Backups running now, or waiting for a worker.", labels=["state"]
    )
    jobs.add_metric(["running"], shot.running)
    jobs.add_metric(["queued"], shot.queued)
    return [success, duration, size, rpo, state, proven, drill_failed, backups, jobs]
