"""What the Fleet view shows of every service at once, in a few aggregate queries
whatever the number of services (no query per service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from dflow_tui.core.enums import BackupStatus, Trigger
from dflow_tui.core.tiers import Tier
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup


async def last_scheduled_successes(session: StateSession) -> dict[tuple[int, Tier], datetime]:
    """(service, tier) → the tier's last kept success: what makes it due again."""
    query = (
        select(col(Backup.service_id), col(Backup.schedule_tier), func.max(col(Backup.created_at)))
        .where(
            col(Backup.trigger) == Trigger.SCHEDULED,
            col(Backup.status) == BackupStatus.SUCCESS,
            col(Backup.deleted_at).is_(None),
        )
        .group_by(col(Backup.service_id), col(Backup.schedule_tier))
    )
    return {
        (service_id, tier): when
        for service_id, tier, when in (await session.exec(query)).all()
        if tier is not None and when is not None
    }


async def last_successes(session: StateSession) -> dict[int, datetime]:
    """Service → when its newest kept backup (of any trigger) succeeded."""
    query = (
        select(col(Backup.service_id), func.max(col(Backup.created_at)))
        .where(col(Backup.status) == BackupStatus.SUCCESS, col(Backup.deleted_at).is_(None))
        .group_by(col(Backup.service_id))
    )
    return {service_id: when for service_id, when in (await session.exec(query)).all() if when is not None}


async def latest_backups(session: StateSession) -> dict[int, Backup]:
    """Service → its newest backup not deleted (how its last run ended, and its size)."""
    newest = (
        select(func.max(col(Backup.id)))
        .where(col(Backup.deleted_at).is_(None))
        .group_by(col(Backup.service_id))
        .scalar_subquery()
    )
    query = select(Backup).where(col(Backup.id).in_(newest))
    return {backup.service_id: backup for backup in (await session.exec(query)).all()}
