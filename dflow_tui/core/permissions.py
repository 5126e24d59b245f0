"""Who may do what: permission keys and the roles that hold them."""

from __future__ import annotations

from enum import StrEnum

from dflow_tui.core.errors import InvalidName, NotAllowed


class Permission(StrEnum):
    READ = "backups.read"
    CREATE = "backups.create"
    RESTORE = "backups.restore"
    DELETE = "backups.delete"
    SCHEDULE = "backups.schedule"
    DESTINATION = "backups.destination"
    STORAGE = "integrations.backup_storage"
    NOTIFY = "integrations.notifications"
    # Not on the dashboard's list; held by admins only.
    INVENTORY = "inventory.manage"
    USERS = "users.manage"


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MEMBER: frozenset({Permission.READ, Permission.CREATE}),
    Role.VIEWER: frozenset({Permission.READ}),
}

WHAT = {
    Permission.READ: "see backups",
    Permission.CREATE: "create backups",
    Permission.RESTORE: "restore backups",
    Permission.DELETE: "delete backups",
    Permission.SCHEDULE: "change backup schedules",
    Permission.DESTINATION: "change backup destinations",
    Permission.STORAGE: "manage Backup Storage",
    Permission.NOTIFY: "manage notifications",
    Permission.INVENTORY: "manage servers, projects and services",
    Permission.USERS: "manage users",
}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidName(f"Unknown role {value!r}: choose admin, member or viewer") from None


def allowed(role: str | None, permission: Permission) -> bool:
    return role is not None and permission in ROLE_PERMISSIONS.get(Role(role), frozenset())


def refusal(login: str, role: str | None, permission: Permission) -> str | None:
    """Why `login` may not do it, in words; None when they may."""
    if role is None:
        return (
            f"User {login!r} is not known to this state database; an admin can add them with "
            f"`dflow-tui user add {login} --role member`"
        )
    if not allowed(role, permission):
        return f"{login} ({role}) may not {WHAT[permission]}: that needs the {permission} permission"
    return None


def check(login: str, role: str | None, permission: Permission) -> None:
    reason = refusal(login, role, permission)
    if reason is not None:
        raise NotAllowed(reason)
