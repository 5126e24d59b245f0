"""Users and their roles, and the audit log of what they (and the scheduler, retention…) did."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from dflow_tui.core.permissions import Role
from dflow_tui.store.db import Database
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import AuditEntry, User


async def add_first_user(db: Database, user: User) -> bool:
    """Saves `user` only if the state database has no user yet; False when it had one, or
    another process saved its first user at the same moment."""
    async with db.session() as session:
        if (await session.exec(select(func.count()).select_from(User))).one() > 0:
            return False
        session.add(user)
        try:
            await session.commit()
        except IntegrityError:
            return False
        return True


async def user_by_login(session: StateSession, login: str) -> User | None:
    return (await session.exec(select(User).where(User.login == login))).first()


async def role_of(db: Database, login: str) -> Role | None:
    """The user's role; None for a login that is not a user."""
    async with db.reading() as session:
        user = await user_by_login(session, login)
    return user.role if user else None


async def list_users(db: Database) -> list[User]:
    """Every user, by login."""
    async with db.reading() as session:
        return list((await session.exec(select(User).order_by(col(User.login)))).all())


async def count_admins(session: StateSession) -> int:
    """How many admins there are, holding their rows until the transaction ends: two admins
    removing each other at once take turns, and the second sees one admin left. (On
    PostgreSQL a row lock; SQLite's BEGIN IMMEDIATE serializes the two already.)"""
    admins = await session.exec(select(User.id).where(User.role == Role.ADMIN).with_for_update())
    return len(admins.all())


# --- the audit log -----------------------------------------------------------------


async def add_audit_entry(db: Database, entry: AuditEntry) -> None:
    async with db.session() as session:
        session.add(entry)
        await session.commit()


async def add_audit_entries(db: Database, entries: list[AuditEntry]) -> None:
    async with db.session() as session:
        session.add_all(entries)
        await session.commit()


async def audit_entries(db: Database, service_path: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    """The newest entries first (only those on `service_path`, when given)."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if service_path:
        query = query.where(AuditEntry.service_path == service_path)
    async with db.reading() as session:
        return list((await session.exec(query)).all())
