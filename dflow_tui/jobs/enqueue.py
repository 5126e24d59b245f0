"""Recording a new backup: the checks, the row, and the names it will write to.

Used for manual backups (claimed at once by the process that asked) and by the
scheduler (left unclaimed for any worker). A refused request leaves no row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dflow_tui.core.engines import compresses
from dflow_tui.core.enums import BackupStatus, BackupType, Compression, Trigger
from dflow_tui.core.errors import DflowError, NotFound
from dflow_tui.core.naming import dump_file_name, join_remote, object_key
from dflow_tui.core.policy import (
    check_provider_usable,
    refuse,
    resolve_server_id,
    server_for_new_backup,
    writer_refusal,
)
from dflow_tui.core.tiers import Tier
from dflow_tui.jobs.context import JobContext
from dflow_tui.jobs.failure import failure_text
from dflow_tui.pipeline import Layers, Recipient, parse_recipients
from dflow_tui.store.queries import backups, copies, inventory, operations, providers, rows
from dflow_tui.store.queries.inventory import ServiceRows
from dflow_tui.store.tables import Backup, BackupCopy, Operation, Server, ServiceCopy, StorageProvider

ONE_MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Facts:
    """What recording a backup of one service needs to know, read in its transaction."""

    place: ServiceRows
    path: str
    server: Server | None
    provider: StorageProvider | None
    restoring: Operation | None
    latest: datetime | None
    # Where its backups go beside the primary, with the providers they name (by id).
    copies: list[ServiceCopy] = field(default_factory=list)
    copy_providers: dict[int, StorageProvider] = field(default_factory=dict)


async def record_backup(
    ctx: JobContext,
    service_id: int,
    *,
    trigger: Trigger,
    tier: Tier | None,
    actor: str,
    claimed: bool,
    safety_for: int | None = None,
) -> Backup:
    """`safety_for`: the restore operation this backup is the safety backup of (the one
    restore a backup may run beside: it runs first, inside that restore)."""
    # One transaction: the checks, the name's timestamp and the row agree.
    async with ctx.db.session() as session:
        await inventory.lock_service(session, service_id)  # against a restore starting right now
        place = await inventory.service_rows(session, service_id)
        path = place.path
        server_id = resolve_server_id(place.environment, place.project)
        facts = Facts(
            place=place,
            path=path,
            server=await session.get(Server, server_id) if server_id is not None else None,
            provider=await providers.provider_of(session, place.service),
            restoring=await operations.active_restore_of_service(session, service_id),
            latest=await backups.latest_created_at(session, service_id),
            copies=await copies.service_copies(session, service_id),
            copy_providers=await copies.copy_providers(session, service_id),
        )
        backup = new_backup(
            ctx, facts, trigger=trigger, tier=tier, actor=actor, claimed=claimed, safety_for=safety_for
        )
        return await backups.insert_backup(session, backup, path, new_copies(ctx, facts, backup))


@dataclass(frozen=True)
class Queued:
    """What record_scheduled did: the rows queued, why each refused service was refused,
    and each service's path (for the audit log)."""

    backups: list[Backup]
    refused: dict[int, str]
    paths: dict[int, str]


async def record_scheduled(ctx: JobContext, due: dict[int, Tier], actor: str) -> Queued | None:
    """Queues one scheduled backup per service in `due` (service id → tier), in one
    transaction and a few queries whatever their number; returns the rows and, per
    service refused, why. None when another process started a backup of one of them
    meanwhile (the database's one-in-progress rule): nothing was written, and the caller
    queues them one by one instead."""
    async with ctx.db.session() as session:
        ids = list(due)
        await inventory.lock_services(session, ids)
        places = await inventory.service_rows_of(session, ids)
        servers = await inventory.servers_by_id(session)
        provider_rows = await providers.providers_by_id(session)
        restoring = await operations.active_restores_of_services(session, ids)
        latest = await backups.latest_created_at_of(session, ids)
        wanted = await copies.service_copies_of(session, ids)
        rows: list[Backup] = []
        copy_rows: dict[int, list[BackupCopy]] = {}
        refused: dict[int, str] = {}
        for service_id, place in places.items():
            server_id = resolve_server_id(place.environment, place.project)
            facts = Facts(
                place=place,
                path=place.path,
                server=servers.get(server_id) if server_id is not None else None,
                provider=provider_rows.get(place.service.provider_id) if place.service.provider_id else None,
                restoring=restoring.get(service_id),
                latest=latest.get(service_id),
                copies=wanted.get(service_id, []),
                copy_providers=provider_rows,
            )
            try:
                backup = new_backup(
                    ctx,
                    facts,
                    trigger=Trigger.SCHEDULED,
                    tier=due[service_id],
                    actor=actor,
                    claimed=False,
                )
            except DflowError as error:
                refused[service_id] = str(error)
                continue
            rows.append(backup)
            if facts.copies:
                copy_rows[service_id] = new_copies(ctx, facts, backup)
        if not await backups.insert_backups(session, rows, copy_rows):
            return None
    return Queued(rows, refused, {service_id: place.path for service_id, place in places.items()})


def stored_at(
    place: ServiceRows,
    server: Server,
    provider: StorageProvider | None,
    created_at: datetime,
    compressed: bool,
    recipients: Sequence[Recipient] = (),
) -> dict[str, Any]:
    """Where a dump of `place`'s service made at `created_at` is stored, and how, as a
    backup's row or one of its copies' records it: a file on `server`'s disk (no
    `provider`), or an object in the provider's bucket, sealed for `recipients`."""
    layers = Layers(compressed=compressed, encrypted=bool(recipients))
    values: dict[str, Any] = {
        "compression": "zstd" if compressed else None,
        "encrypted_for": ",".join(r.fingerprint for r in recipients) or None,
    }
    if provider is None:
        name = layers.name(dump_file_name(place.service.name, created_at))
        return values | {"file_path": join_remote(server.backup_dir, name)}
    key = object_key(
        provider.prefix,
        place.project.name,
        place.environment.name,
        place.service.name,
        created_at,
        layers.suffix,
    )
    return values | {"provider_id": provider.id, "bucket": provider.bucket, "object_key": key}


def new_backup(
    ctx: JobContext,
    facts: Facts,
    *,
    trigger: Trigger,
    tier: Tier | None,
    actor: str,
    claimed: bool,
    safety_for: int | None = None,
) -> Backup:
    """The row of a new backup, after the checks that may refuse it (a DflowError)."""
    place, path = facts.place, facts.path
    service = place.service
    server_id = server_for_new_backup(path, place.environment, place.project)
    if facts.restoring is not None and facts.restoring.id != safety_for:
        refuse(writer_refusal(None, None, facts.restoring.backup_id))
    server = facts.server
    if server is None:
        raise NotFound(f"No server with id {server_id}")
    now = ctx.clock.now()
    if facts.latest is not None and facts.latest >= now:  # dump names are unique to the millisecond
        now = facts.latest + ONE_MILLISECOND
    backup = Backup(
        service_id=rows.saved_id(service.id),
        type=service.destination,
        status=BackupStatus.IN_PROGRESS,
        trigger=trigger,
        schedule_tier=tier,
        server_id=server_id,
        requested_by=actor,
        worker_id=ctx.worker_id if claimed else None,
        created_at=now,
        heartbeat_at=now if claimed else None,
    )
    if service.destination == BackupType.EXTERNAL:
        compressed = compresses(service.compression, service.engine)
    else:  # on the server: `auto` becomes zstd in the job, when the server has zstd
        compressed = service.compression == Compression.ZSTD
    provider, recipients = None, []
    if service.destination == BackupType.EXTERNAL:
        provider = facts.provider
        check_provider_usable(provider, path)
        assert provider is not None  # check_provider_usable refuses a missing provider
        recipients = parse_recipients(provider.recipients or "")
    for key, value in stored_at(place, server, provider, now, compressed, recipients).items():
        setattr(backup, key, value)
    return backup


def new_copies(ctx: JobContext, facts: Facts, backup: Backup) -> list[BackupCopy]:
    """The copy rows of a new backup (its id is set when it is saved), named from the same
    moment as its primary. A copy that cannot be made now (its provider gone or no longer
    verified) is recorded failed at once, with why: the backup goes on without it."""
    place, service = facts.place, facts.place.service
    made: list[BackupCopy] = []
    now = backup.created_at
    assert now is not None and facts.server is not None  # new_backup checked both
    for wanted in facts.copies:
        copy = BackupCopy(
            backup_id=0,
            position=wanted.position,
            type=wanted.type,
            status=BackupStatus.IN_PROGRESS,
            server_id=backup.server_id,
            created_at=now,
        )
        made.append(copy)
        if wanted.type == BackupType.INTERNAL:
            compressed = service.compression == Compression.ZSTD  # `auto`: decided in the job
            values = stored_at(place, facts.server, None, now, compressed)
        else:
            provider = facts.copy_providers.get(wanted.provider_id or 0)
            copy.provider_id = wanted.provider_id
            try:
                check_provider_usable(provider, facts.path)
            except DflowError as error:
                copy.status = BackupStatus.FAILED
                copy.error = f"Not made: {failure_text(error, ctx.secrets)}"
                copy.finished_at = now
                continue
            assert provider is not None  # check_provider_usable refuses a missing provider
            compressed = compresses(service.compression, service.engine)
            recipients = parse_recipients(provider.recipients or "")
            values = stored_at(place, facts.server, provider, now, compressed, recipients)
        for key, value in values.items():
            setattr(copy, key, value)
    return made
