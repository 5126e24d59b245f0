"""Names that reach a shell or a bucket: validation and the dump-name scheme.

Everything here is pure. A name is validated before anything runs; the command
builders quote it again anyway (defence in depth).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dflow_tui.core.enums import Engine
from dflow_tui.core.errors import InvalidName

# Dokku's own rule for datastore service names.
SERVICE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Projects, environments, servers, providers never reach a shell, but they form
# the PROJECT/ENV/NAME path, so no slash and nothing invisible.
LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$", re.IGNORECASE)
BACKUP_DIR_RE = re.compile(r"^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/?$")
TIMESTAMP_FORMAT = "%Y-%m-%d-%H-%M-%S"
DUMP_SUFFIX = ".dump"
ZSTD_SUFFIX = ".zst"  # compressed with zstd
AGE_SUFFIX = ".age"  # then encrypted with age
PARTIAL_SUFFIX = ".partial"
_LAYER_SUFFIXES = {DUMP_SUFFIX + zst + age for zst in ("", ZSTD_SUFFIX) for age in ("", AGE_SUFFIX)}
# `{service}-{timestamp}.dump`, with the layers it is stored under: `.zst`, then `.age`.
DUMP_NAME_RE = re.compile(
    r"^(?P<service>[a-z0-9][a-z0-9_-]{0,62})-"
    r"(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3})\.dump(?:\.zst)?(?:\.age)?$"
)


def validate_service_name(name: str) -> str:
    if not SERVICE_NAME_RE.fullmatch(name or ""):
        raise InvalidName(
            f"Invalid service name {name!r}: use lowercase letters, digits, '-' "
            "and '_', starting with a letter or digit (as Dokku does)"
        )
    return name


def validate_label(name: str, what: str) -> str:
    if not LABEL_RE.fullmatch(name or ""):
        raise InvalidName(
            f"Invalid {what} name {name!r}: use letters, digits, '.', '-' and '_' "
            "(no spaces or slashes), starting with a letter or digit"
        )
    return name


def validate_host(host: str) -> str:
    if not HOST_RE.fullmatch(host or "") or host.startswith("-"):
        raise InvalidName(f"Invalid host {host!r}: give a hostname or an IP address")
    return host


def validate_port(port: int) -> int:
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidName(f"Invalid port {port!r}: use a number from 1 to 65535")
    return port


def validate_user(user: str) -> str:
    if not USER_RE.fullmatch(user or ""):
        raise InvalidName(f"Invalid SSH user {user!r}")
    return user


def validate_backup_dir(path: str) -> str:
    """A directory on the server: relative to the SSH user's home, or absolute.

    No `..`, no `~`, no shell metacharacters, not the filesystem root.
    """
    if (
        not BACKUP_DIR_RE.fullmatch(path or "")
        or any(part in ("..", ".") for part in path.strip("/").split("/"))
        or path.strip("/") == ""
    ):
        raise InvalidName(
            f"Invalid backup directory {path!r}: use a plain path such as "
            "'dflow-backups' or '/var/backups/dflow' (letters, digits, '.', '-', '_', '/'; no '..')"
        )
    return path.rstrip("/") if len(path) > 1 else path


def format_timestamp(when: datetime) -> str:
    when = when.astimezone(UTC)
    return f"{when.strftime(TIMESTAMP_FORMAT)}-{when.microsecond // 1000:03d}"


def dump_file_name(service: str, when: datetime) -> str:
    """`{service}-{YYYY-MM-DD-HH-MM-SS-mmm}.dump`, in UTC."""
    validate_service_name(service)
    return f"{service}-{format_timestamp(when)}{DUMP_SUFFIX}"


def is_dump_file_name(file_name: str, service: str | None = None) -> bool:
    match = DUMP_NAME_RE.fullmatch(file_name or "")
    if not match:
        return False
    return service is None or match.group("service") == service


def join_remote(directory: str, file_name: str) -> str:
    """A file inside the backup directory; refuses anything that is not a dump name."""
    validate_backup_dir(directory)
    if not (
        is_dump_file_name(file_name)
        or (file_name.endswith(PARTIAL_SUFFIX) and is_dump_file_name(file_name[: -len(PARTIAL_SUFFIX)]))
    ):
        raise InvalidName(f"Refusing file {file_name!r}: not a dump file name")
    return f"{directory.rstrip('/')}/{file_name}"


def object_key(
    prefix: str, project: str, environment: str, service: str, when: datetime, suffix: str = DUMP_SUFFIX
) -> str:
    """`{prefix}/{project}/{environment}/{service}-{timestamp}.dump[.zst][.age]`.

    Two services of one name in different environments never share a key (each key
    belongs to one service); with an empty prefix it starts at the bucket's root."""
    validate_label(project, "project")
    validate_label(environment, "environment")
    if suffix not in _LAYER_SUFFIXES:
        raise InvalidName(f"Refusing the dump suffix {suffix!r}")
    name = dump_file_name(service, when)[: -len(DUMP_SUFFIX)] + suffix
    prefix = prefix.strip("/")
    return "/".join(part for part in (prefix, project, environment, name) if part)


def parse_service_path(path: str) -> tuple[str, str, str]:
    """`PROJECT/ENV/NAME` → its three parts, each validated."""
    parts = (path or "").split("/")
    if len(parts) != 3:
        raise InvalidName(f"Invalid service path {path!r}: write it as PROJECT/ENV/NAME")
    project, env, name = parts
    return (
        validate_label(project, "project"),
        validate_label(env, "environment"),
        validate_service_name(name),
    )


def dump_in_backup_dir(backup_dir: str, file_path: str) -> str:
    """The file name of `file_path` if it is a dump directly inside `backup_dir`; else refuse."""
    directory, _, file_name = (file_path or "").rpartition("/")
    if directory != validate_backup_dir(backup_dir) or not is_dump_file_name(file_name):
        raise InvalidName(
            f"Refusing {file_path!r}: not a dump file directly inside the server's "
            f"backup directory {backup_dir!r}"
        )
    return file_name


def restore_temp_path(
    backup_dir: str, service: str, created_at: datetime, *, compressed: bool = False
) -> str:
    """Where a restore puts the dump on the target's server before importing it (removed
    afterwards): streamed from the bucket, or copied from another server as it is stored
    (`compressed`: a .zst the import decompresses)."""
    name = dump_file_name(service, created_at) + (ZSTD_SUFFIX if compressed else "")
    return join_remote(backup_dir, name) + PARTIAL_SUFFIX


ENGINES: tuple[str, ...] = tuple(engine.value for engine in Engine)


def validate_engine(engine: str) -> Engine:
    """The Dokku datastore plugin for `engine` (a string or an Engine member)."""
    try:
        return Engine(engine)
    except ValueError:
        raise InvalidName(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}") from None
