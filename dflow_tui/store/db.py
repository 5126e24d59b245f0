"""The state database: async engine, sessions, and migrations applied at start."""

from __future__ import annotations

import logging
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from dflow_tui.settings import CONNECT_TIMEOUT, data_dir
from dflow_tui.store.session import StateSession
from dflow_tui.store.state_url import StateUnavailable, masked

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_HEADER = b"SQLite format 3\x00"
log = logging.getLogger("dflow_tui.state")


# The newest migration. Opening a database already there needs no Alembic at all (it is
# slow to import, and every CLI command opens the database); a test keeps it equal to
# the newest file in migrations/versions.
HEAD_REVISION = "0018"


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def _prepare_sqlite_file(url: str) -> None:
    """The SQLite state is private to its owner, at every open: 0600 for the file and its
    -wal/-shm companions, and 0700 for the default data directory, which is ours. Wider
    modes found (an old install, a copy, a umask) are narrowed, with a warning: the state
    names servers, keys and buckets. A directory the user chose is theirs and left as it is;
    one that does not exist is refused (only the default data directory is created, so a
    mistyped path cannot start a new, empty state in which the caller is the first admin);
    and a file that is not a SQLite database is refused before anything is touched."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database).expanduser()
    own_directory = path.parent.absolute() == data_dir().absolute()
    if not path.parent.exists():
        if not own_directory:
            raise StateUnavailable(
                f"State database {database}: the directory {path.parent} does not exist; "
                "create it first, or leave out --db and DFLOW_TUI_DB for the default state"
            )
        path.parent.mkdir(parents=True, mode=0o700)
    if path.exists() and not _holds_sqlite(path):
        raise StateUnavailable(f"Cannot open the state database {path}: it is not a SQLite database")
    if not path.exists():
        path.touch(mode=0o600)
    if own_directory:
        _narrow(path.parent, 0o700)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        _narrow(file, 0o600)


def _holds_sqlite(path: Path) -> bool:
    """An empty file (a database not written yet) or one that starts with SQLite's header."""
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StateUnavailable(f"Cannot open the state database {path}: {exc.strerror or exc}") from exc
    return head in (b"", SQLITE_HEADER)


def _narrow(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & ~mode:
        path.chmod(current & mode)
        log.warning("%s was readable or writable by others (%o); now %o", path, current, current & mode)


def _sqlite_pragmas(foreign_keys: bool, read_only: bool) -> Callable[[DBAPIConnection, object], None]:
    def apply(dbapi_connection: DBAPIConnection, _record: object) -> None:
        # We issue BEGIN ourselves (below), so the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, NORMAL survives a killed process whole and stays consistent; only a
        # power loss may undo the last commits. FULL would fsync every heartbeat and progress
        # write (over 100 ms each on some disks), which the job's own steps then wait for.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return apply


def _engine(url: str, *, foreign_keys: bool = True, read_only: bool = False) -> AsyncEngine:
    """On SQLite, a writing engine takes the write lock at BEGIN; a read-only one
    reads a snapshot (WAL) and never waits for writers nor makes them wait."""
    backend = make_url(url).get_backend_name()
    # asyncpg's own connect timeout is 60 s: a dead state server should not hold a command that long.
    connect_args = {"timeout": CONNECT_TIMEOUT} if backend == "postgresql" else {}
    engine = create_async_engine(url, connect_args=connect_args)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(foreign_keys, read_only))
        event.listen(engine.sync_engine, "begin", _begin_deferred if read_only else _begin_immediate)
    return engine


def _begin_immediate(connection: Connection) -> None:
    """Several processes share one SQLite file. A transaction that reads, then writes,
    would fail at once (SQLITE_BUSY) if another process wrote in between; taking the
    write lock at BEGIN makes it wait its turn (busy_timeout) instead."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


class Database:
    """One state database: an engine plus a session factory."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        if self.is_sqlite:
            _prepare_sqlite_file(url)
        self.engine: AsyncEngine = _engine(url)
        self._sessions = async_sessionmaker(self.engine, class_=StateSession, expire_on_commit=False)
        # Reads that the app repeats all the time (the refresh probe, lists) must not
        # queue behind a worker's write, nor hold the write lock themselves.
        self.read_engine: AsyncEngine = _engine(url, read_only=True) if self.is_sqlite else self.engine
        self._read_sessions = async_sessionmaker(
            self.read_engine, class_=StateSession, expire_on_commit=False
        )

    async def migrate(self) -> None:
        """Applies pending migrations. On SQLite, a table rebuild (batch mode) copies
        rows into a new table, so foreign keys are checked afterwards, not during."""
        if await self._at_head():
            return

        def upgrade(connection: Connection) -> None:
            from alembic import command

            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            if self.is_sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"Migration left broken references: {broken[:5]}")

        engine = _engine(self.url, foreign_keys=False)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(upgrade)
        finally:
            await engine.dispose()

    async def _at_head(self) -> bool:
        """Whether the schema is the newest already (one small read)."""
        try:
            async with self.read_engine.connect() as connection:
                found = await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
                return [row[0] for row in found] == [HEAD_REVISION]
        except DBAPIError:  # no such table: a new database
            return False

    @asynccontextmanager
    async def session(self) -> AsyncIterator[StateSession]:
        """A session that may write."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[StateSession]:
        """A session that only reads (on SQLite, writing through it is refused)."""
        async with self._read_sessions() as session:
            yield session

    async def close(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


async def open_database(url: str) -> Database:
    """The database at `url`, migrated; StateUnavailable in one sentence when it cannot be used."""
    try:
        database = Database(url)
    except (OSError, SQLAlchemyError) as exc:
        raise StateUnavailable(f"Cannot open the state database {masked(url)}: {_reason(exc)}") from exc
    try:
        await database.migrate()
    except (TimeoutError, OSError, SQLAlchemyError) as exc:
        await database.close()
        raise StateUnavailable(f"Cannot open the state database {masked(url)}: {_reason(exc)}") from exc
    return database


def _reason(exc: BaseException) -> str:
    """The driver's own words (first line), without SQLAlchemy's wrapping and links."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT:g}s"
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__
