"""Which state database a URL names, checked before anything is opened or created.

dflow-tui keeps its state in SQLite (through aiosqlite) or PostgreSQL (through asyncpg).
`sqlite:///PATH` and `postgresql://...` are accepted and given those drivers; anything else
is refused with one sentence that says what would work. (What a SQLite path may name is
checked where the file is prepared: store/db.py.)
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dflow_tui.core.errors import DflowError

EXAMPLES = "sqlite+aiosqlite:///PATH/state.db or postgresql+asyncpg://USER@HOST/DB"
DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}


class StateUnavailable(DflowError):
    """The state database cannot be used: a bad URL, an unreachable server, not a database."""


def masked(url: str) -> str:
    """The URL as it may be shown: its password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def checked_url(url: str) -> str:
    """`url` with its driver made explicit, or StateUnavailable saying what is wrong with it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StateUnavailable(f"State database URL '{url}' is not a URL: use {EXAMPLES}") from None
    backend = "postgresql" if parsed.get_backend_name() == "postgres" else parsed.get_backend_name()
    driver = DRIVERS.get(backend)
    if driver is None:
        raise StateUnavailable(
            f"State database URL '{masked(url)}': {backend or 'no database kind'} is not supported; "
            f"dflow-tui keeps its state in SQLite or PostgreSQL ({EXAMPLES})"
        )
    given = parsed.drivername.partition("+")[2]
    if given not in ("", driver):
        raise StateUnavailable(
            f"State database URL '{masked(url)}': the driver {given} is not supported; "
            f"use {backend}+{driver}://..."
        )
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)
