"""Users, roles, and the permission check every action passes through; plus the audit log."""

from __future__ import annotations

from dflow_tui.core.enums import AuditResult
from dflow_tui.core.errors import Conflict, InvalidName, NotAllowed, NotFound
from dflow_tui.core.naming import USER_RE
from dflow_tui.core.permissions import Permission, Role, allowed, check, parse_role, refusal
from dflow_tui.core.views import AuditView, UserView
from dflow_tui.jobs import audit
from dflow_tui.jobs.context import JobContext
from dflow_tui.store.queries import rows, users
from dflow_tui.store.tables import AuditEntry, User


def user_view(user: User) -> UserView:
    return UserView(login=user.login, role=user.role, created_by=user.created_by, created_at=user.created_at)


def audit_view(entry: AuditEntry) -> AuditView:
    assert entry.at is not None  # every entry is written with its time
    return AuditView(
        id=rows.saved_id(entry.id),
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        result=entry.result,
        service_path=entry.service_path,
        target=entry.target,
        detail=entry.detail,
    )


class Access:
    """The acting user (the OS login) and what they may do."""

    def __init__(self, ctx: JobContext, login: str):
        self.ctx = ctx
        self.login = login

    async def bootstrap(self) -> None:
        """The first user of a fresh state database is its admin."""
        first = User(
            login=self.login, role=Role.ADMIN, created_by=self.login, created_at=self.ctx.clock.now()
        )
        if not await users.add_first_user(self.ctx.db, first):
            return  # it had users, or another process bootstrapped it at the same moment
        await audit.record(
            self.ctx,
            self.login,
            "user.add",
            AuditResult.SUCCEEDED,
            target=self.login,
            detail="first user of a new state database: admin",
        )

    async def role(self) -> Role | None:
        return await users.role_of(self.ctx.db, self.login)

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
                AuditResult.REFUSED,
                service_path=service_path,
                target=target,
                detail=str(refusal),
            )
            raise

    async def audit(self, action: str, result: AuditResult, **where: str | None) -> None:
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
        user = User(login=login, role=chosen, created_by=self.access.login, created_at=self.ctx.clock.now())
        user = await rows.insert(self.ctx.db, user, f"User {login!r}")
        await self.access.audit(
            "user.add", AuditResult.SUCCEEDED, target=login, detail=f"role {chosen.value}"
        )
        return user_view(user)

    async def list(self) -> list[UserView]:
        await self.access.require(Permission.READ, "user.list")
        return [user_view(u) for u in await users.list_users(self.ctx.db)]

    async def remove(self, login: str) -> None:
        await self.access.require(Permission.USERS, "user.remove", target=login)
        async with self.ctx.db.session() as session:
            user = await users.user_by_login(session, login)
            if user is None:
                raise NotFound(f"No user {login!r}")
            if user.role == Role.ADMIN and await users.count_admins(session) <= 1:
                raise Conflict(f"{login} is the last admin; add another admin first")
            await rows.delete(session, user)
        await self.access.audit("user.remove", AuditResult.SUCCEEDED, target=login)


class AuditLog:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.access = access

    async def list(self, service: str | None = None, limit: int = 1000) -> list[AuditView]:
        await self.access.require(Permission.READ, "audit.list")
        return [audit_view(entry) for entry in await users.audit_entries(self.ctx.db, service, limit)]
