"""A fleet in the state database, written in bulk: servers, projects, services with
schedules and their last scheduled success — for scale tests and the benchmarks.

    ids = await seed_fleet(db, 10_000, now=clock.now(), due=0.1)

Service i is `fleet-{i // 100}/production/db{i}` on server `fleet-host-{i % servers}`;
each runs a daily tier whose last success is an hour old, except a `due` fraction
spread evenly over the fleet (every 1/due-th service), whose last success is two days
old (due now).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, insert
from sqlmodel import select

from dflow_tui.core.enums import BackupStatus, BackupType, Engine, Trigger
from dflow_tui.core.tiers import Tier
from dflow_tui.store.db import Database
from dflow_tui.store.tables import Backup, Environment, Project, ScheduleTier, Server, Service

PER_PROJECT = 100
CHUNK = 2_000


@dataclass(frozen=True)
class Fleet:
    ids: list[int]
    due_ids: list[int]


def is_due(n: int, due: float) -> bool:
    return int((n + 1) * due) > int(n * due)


async def _insert(session, table, rows: list[dict]) -> None:
    connection = await session.connection()  # Core inserts, many rows a statement
    for start in range(0, len(rows), CHUNK):
        await connection.execute(insert(table), rows[start : start + CHUNK])


async def seed_fleet(
    db: Database,
    count: int,
    *,
    now: datetime,
    due: float = 0.0,
    servers: int = 1,
    local_dir: str | None = None,
    first: int = 0,
) -> Fleet:
    """Adds `count` scheduled services (numbered from `first`); returns their ids.
    `local_dir`: the servers are this machine, writing there (jobs can really run)."""
    async with db.session() as session:
        server_ids = []
        for n in range(servers):
            name = f"fleet-host-{n}"
            found = (await session.exec(select(Server.id).where(Server.name == name))).first()
            if found is None:
                values = {"name": name, "local": local_dir is not None, "created_at": now}
                values |= (
                    {"backup_dir": local_dir} if local_dir else {"host": f"10.0.{n // 250}.{n % 250 + 1}"}
                )
                connection = await session.connection()
                found = (
                    await connection.execute(insert(Server).values(**values).returning(Server.id))
                ).scalar_one()
            server_ids.append(found)
        projects = sorted({i // PER_PROJECT for i in range(first, first + count)})
        known = dict((await session.exec(select(Project.name, Project.id))).all())
        new = [
            {"name": f"fleet-{p}", "server_id": server_ids[p % servers], "created_at": now}
            for p in projects
            if f"fleet-{p}" not in known
        ]
        await _insert(session, Project, new)
        known = dict((await session.exec(select(Project.name, Project.id))).all())
        environments = dict((await session.exec(select(Environment.project_id, Environment.id))).all())
        await _insert(
            session,
            Environment,
            [
                {"project_id": known[f"fleet-{p}"], "name": "production", "created_at": now}
                for p in projects
                if known[f"fleet-{p}"] not in environments
            ],
        )
        environments = dict((await session.exec(select(Environment.project_id, Environment.id))).all())
        numbers = range(first, first + count)
        await _insert(
            session,
            Service,
            [
                {
                    "environment_id": environments[known[f"fleet-{i // PER_PROJECT}"]],
                    "name": f"db{i}",
                    "engine": Engine.POSTGRES,
                    "destination": BackupType.INTERNAL,
                    "created_at": now,
                }
                for i in numbers
            ],
        )
        names = {f"db{i}" for i in numbers}
        ids = {
            name: service_id
            for service_id, name in (await session.exec(select(Service.id, Service.name))).all()
            if name in names
        }
        service_ids = [ids[f"db{i}"] for i in numbers]
        await _insert(session, ScheduleTier, [{"service_id": s, "tier": Tier.DAILY} for s in service_ids])
        await _insert(
            session,
            Backup,
            [
                {
                    "service_id": service_id,
                    "type": BackupType.INTERNAL,
                    "status": BackupStatus.SUCCESS,
                    "trigger": Trigger.SCHEDULED,
                    "schedule_tier": Tier.DAILY,
                    "server_id": server_ids[((first + n) // PER_PROJECT) % servers],
                    "file_path": f"/var/backups/dflow/db{first + n}-seed.dump",
                    "size_bytes": 1024 * (n % 97 + 1),
                    "created_at": now - (timedelta(days=2) if is_due(n, due) else timedelta(hours=1)),
                    "finished_at": now - (timedelta(days=2) if is_due(n, due) else timedelta(hours=1)),
                }
                for n, service_id in enumerate(service_ids)
            ],
        )
        await session.commit()
    return Fleet(service_ids, [s for n, s in enumerate(service_ids) if is_due(n, due)])


@contextlib.contextmanager
def counted_queries(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent to the state database inside the block, as a list."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
