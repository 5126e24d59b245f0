"""Users, roles, and the permission check every action passes through; plus the audit log."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from dflow_tui.core.errors import (
    AlreadyExists,
    Conflict,
    InvalidName,
    NotAllowed,
    NotFound,
)
from dflow_tui.core.naming import USER_RE
from dflow_tui.core.permissions import Permission, Role, allowed, check, parse_role, refusal
from dflow_tui.core.views import AuditView, UserView
from dflow_tui.jobs import audit
from dflow_tui.jobs.context import JobContext
from dflow_tui.store.tables import AuditEntry, User


def user_view(user: User) -> UserView:
    return UserView(login=user.login, role=user.role, created_by=user.created_by, created_at=user.created_at)


class Access:
    """The acting user (the OS login) and what they may do."""

    def __init__(self, ctx: JobContext, login: str):
        self.ctx = ctx
        self.login = login

    async def bootstrap(self) -> None:
        """The first user of a fresh state database is its admin."""
        async with self.ctx.db.session() as session:
            if (await session.exec(select(func.count()).select_from(User))).one() > 0:
                return
            session.add(
                User(
                    login=self.login,
                    role=Role.ADMIN,
                    created_by=self.login,
                    created_at=self.ctx.clock.now(),
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                return  # another process bootstrapped it at the same moment
        await audit.record(
            self.ctx,
            self.login,
            "user.add",
            "ok",
            target=self.login,
            detail="first user of a new state database: admin",
        )

    async def role(self) -> str | None:
        async with self.ctx.db.reading() as session:
            user = (await session.exec(select(User).where(User.login == self.login))).first()
        return user.role if user else None

    async def can(self, permission: Permission) -> bool:
        return allowed(await self.role(), permission)

    async def refusals(self) -> dict[Permission, str | None]:
        """For each permission, why the acting user may not use it (None: they may)."""
        role = await self.role()
        return {permission: refusal(self.login, role, permission) for permission in Permission}

    async def require(
        self,
        permission: Permission,
        action: str,
        *,
        service_path: str | None = None,
        target: str | None = None,
    ) -> None:
        try:
            check(self.login, await self.role(), permission)
        except NotAllowed as refusal:
            await audit.record(
                self.ctx,
                self.login,
                action,
                "denied",
                service_path=service_path,
                target=target,
                detail=str(refusal),
            )
            raise

    async def audit(self, action: str, result: str, **where) -> None:
        await audit.record(self.ctx, self.login, action, result, **where)


class Users:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.access = access

    async def add(self, login: str, role: str) -> UserView:
        await self.access.require(Permission.USERS, "user.add", target=login)
        if not USER_RE.fullmatch(login or ""):
            raise InvalidName(f"Invalid login {login!r}")
        chosen = parse_role(role)
        user = User(
            login=login, role=chosen.value, created_by=self.access.login, created_at=self.ctx.clock.now()
        )
        async with self.ctx.db.session() as session:
            session.add(user)
            try:
                await session.commit()
            except IntegrityError:
                raise AlreadyExists(f"User {login!r} already exists") from None
            await session.refresh(user)
        await self.access.audit("user.add", "ok", target=login, detail=f"role {chosen.value}")
        return user_view(user)

    async def list(self) -> list[UserView]:
        await self.access.require(Permission.READ, "user.list")
        async with self.ctx.db.reading() as session:
            users = (await session.exec(select(User).order_by(User.login))).all()
        return [user_view(u) for u in users]

    async def remove(self, login: str) -> None:
        await self.access.require(Permission.USERS, "user.remove", target=login)
        async with self.ctx.db.session() as session:
            user = (await session.exec(select(User).where(User.login == login))).first()
            if user is None:
                raise NotFound(f"No user {login!r}")
            if user.role == Role.ADMIN:
                admins = (
                    await session.exec(select(func.count()).select_from(User).where(User.role == Role.ADMIN))
                ).one()
                if admins <= 1:
                    raise Conflict(f"{login} is the last admin; add another admin first")
            await session.delete(user)
            await session.commit()
        await self.access.audit("user.remove", "ok", target=login)


class AuditLog:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.access = access

    async def list(self, service: str | None = None, limit: int = 1000) -> list[AuditView]:
        await self.access.require(Permission.READ, "audit.list")
        query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
        if service:
            query = query.where(AuditEntry.service_path == service)
        async with self.ctx.db.reading() as session:
            entries = (await session.exec(query)).all()
        return [
            AuditView(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                result=e.result,
                service_path=e.service_path,
                target=e.target,
                detail=e.detail,
            )
            for e in entries
        ]
