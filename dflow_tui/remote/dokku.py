"""Dokku datastore-plugin commands, as shell strings (pure: no I/O).

Every service name is validated with Dokku's own rule and then quoted anyway;
the engine must be one of the five datastore plugins we drive.
"""

from __future__ import annotations

import re
import shlex

from dflow_tui.core.naming import (
    SERVICE_NAME_RE,
    validate_engine,
    validate_service_name,
)

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_VERSION_RE = re.compile(r"\b(?:dokku version\s+)?v?(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)")


def _plugin_command(engine: str, action: str, service: str | None = None) -> str:
    plugin = validate_engine(engine)
    command = f"dokku {plugin}:{action}"
    if service is not None:
        command += " " + shlex.quote(validate_service_name(service))
    return command


def export_command(engine: str, service: str) -> str:
    """`dokku ENGINE:export SERVICE` — the dump on stdout."""
    return _plugin_command(engine, "export", service)


def import_command(engine: str, service: str) -> str:
    """`dokku ENGINE:import SERVICE` — reads the dump on stdin."""
    return _plugin_command(engine, "import", service)


def create_command(engine: str, service: str) -> str:
    """`dokku ENGINE:create SERVICE` — fails when it exists already."""
    return _plugin_command(engine, "create", service)


def destroy_command(engine: str, service: str) -> str:
    """`dokku ENGINE:destroy SERVICE --force` — no question asked: callers check first that
    the service is one they made (see jobs/drill.py)."""
    return _plugin_command(engine, "destroy", service) + " --force"


def connect_command(engine: str, service: str) -> str:
    """`dokku ENGINE:connect SERVICE` — the engine's own client, reading stdin."""
    return _plugin_command(engine, "connect", service)


def exists_command(engine: str, service: str) -> str:
    """`dokku ENGINE:exists SERVICE` — exit 0 when the service exists."""
    return _plugin_command(engine, "exists", service)


def list_command(engine: str) -> str:
    """`dokku ENGINE:list` — parse its output with parse_service_list."""
    return _plugin_command(engine, "list")


def version_command() -> str:
    return "dokku version"


def parse_version(output: str) -> str | None:
    """`dokku version 0.34.4` → `0.34.4` (None when there is no version in it)."""
    match = _VERSION_RE.search(_ANSI_RE.sub("", output or ""))
    return match.group(1) if match else None


def parse_service_list(output: str) -> list[str]:
    """Service names from `dokku ENGINE:list`, in order, without duplicates.

    Current plugins print a `=====> Postgres services` header then one name per
    line; older ones print a table whose header row starts with NAME. Banner
    (`=====>`, `----->`), notice (`!`) and blank lines are skipped, and so is any
    line whose first column is not a valid service name.
    """
    names: list[str] = []
    for raw in (output or "").splitlines():
        line = _ANSI_RE.sub("", raw).strip()
        if not line or line.startswith(("=====>", "----->", "!")):
            continue
        first = line.split()[0]
        if first == "NAME" or not SERVICE_NAME_RE.fullmatch(first):
            continue
        if first not in names:
            names.append(first)
    return names
