"""What each Dokku datastore plugin's export is, what its import does, and how to look
inside a restored service: in one place (README's engine table says the same).

`compressed` is what `--compression auto` reads: an export that is compressed already is
stored as it is (compressing it again costs time for nothing). `probe` is what one sends
to `dokku ENGINE:connect SERVICE` to count what a database holds; `proven` says what the
test suite shows of the engine against a real server.
"""

from __future__ import annotations

from dataclasses import dataclass

from dflow_tui.core.enums import Compression, Engine

PROBE_MARK = "dflow-probe"
# Each prints `dflow-probe TABLES ROWS` (exact counts, every user table) whatever the
# client's table format; redis answers DBSIZE with its number of keys.
_POSTGRES_PROBE = (
    "SELECT 'dflow-probe ' || count(*) || ' ' || coalesce(sum((xpath('/row/n/text()', "
    "query_to_xml(format('SELECT count(*) AS n FROM %I.%I', table_schema, table_name), false, true, '')"
    "))[1]::text::bigint), 0) FROM information_schema.tables "
    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE';"
)
_MYSQL_PROBE = (
    "SELECT GROUP_CONCAT(CONCAT('SELECT COUNT(*) AS n FROM `', REPLACE(table_name, '`', '``'), '`') "
    "SEPARATOR ' UNION ALL ') INTO @dflow_rows FROM information_schema.tables "
    "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE';\n"
    "SET @dflow_q = CONCAT('SELECT CONCAT(''dflow-probe '', (SELECT COUNT(*) FROM information_schema.tables "
    "WHERE table_schema = DATABASE() AND table_type = ''BASE TABLE''), '' '', "
    "(SELECT COALESCE(SUM(n), 0) FROM (', COALESCE(@dflow_rows, 'SELECT 0 AS n'), ') AS t))');\n"
    "PREPARE dflow_probe FROM @dflow_q;\nEXECUTE dflow_probe;"
)


@dataclass(frozen=True)
class Probe:
    """What a database holds, counted: tables and rows (redis: keys, as rows)."""

    tables: int
    rows: int

    def __str__(self) -> str:
        return f"{self.tables} tables, {self.rows} rows" if self.tables >= 0 else f"{self.rows} keys"


def parse_probe(engine: Engine, output: str) -> Probe | None:
    """The counts in the client's output for ENGINES[engine].probe; None when absent."""
    if engine == Engine.REDIS:
        for word in output.replace("(integer)", " ").split():
            if word.isdigit():
                return Probe(-1, int(word))
        return None
    for line in output.splitlines():
        at = line.find(PROBE_MARK)
        if at >= 0:
            parts = line[at + len(PROBE_MARK) :].split()
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                return Probe(int(parts[0]), int(parts[1]))
    return None


ROWS_TOLERANCE = 0.01
"""A drill's restored rows (redis: keys) may differ this much from the backup-time count:
the count is taken just before the export, and writes go on meanwhile."""


def drill_problem(expected: Probe | None, found: Probe) -> str | None:
    """Why a drill fails on what it counted (None: it passes): an empty database, or not
    what the live service held while the backup was taken (`expected`, when counted)."""
    if found.rows == 0 and found.tables <= 0:
        return f"The restored database is empty ({found})"
    if expected is None:
        return None
    if found.tables != expected.tables:
        return f"The restored database holds {found}; the live one held {expected} when the backup was taken"
    if abs(found.rows - expected.rows) > ROWS_TOLERANCE * max(expected.rows, 1):
        return (
            f"The restored database holds {found}; the live one held {expected} when the backup was taken "
            f"(more than {ROWS_TOLERANCE:.0%} apart)"
        )
    return None


LIVE_COUNT_SECONDS = 60
"""How long the count beside an export may run on the database server (where the engine
can bound it): a larger database gives up its count rather than scan on."""


def live_probe(engine: Engine) -> str:
    """The probe sent to the live service beside its export: PostgreSQL cancels it itself
    after LIVE_COUNT_SECONDS; the others are bounded by the command's own timeout."""
    if engine == Engine.POSTGRES:
        return f"SET statement_timeout = '{LIVE_COUNT_SECONDS}s';\n{ENGINES[engine].probe}"
    return ENGINES[engine].probe


def drill_summary(expected: Probe | None, found: Probe) -> str:
    """What a drill found, beside what the live service held when the backup was taken
    (counted beside its export; none when that count gave up or could not be taken)."""
    if expected is None:
        return f"{found}; no count at backup time"
    if expected == found:
        return f"{found}, as when the backup was taken"
    return f"{found}; {expected} when the backup was taken"


@dataclass(frozen=True)
class EngineFacts:
    engine: Engine
    export_format: str
    compressed: bool
    import_effect: str
    probe: str
    proven: str


ENGINES: dict[Engine, EngineFacts] = {
    Engine.POSTGRES: EngineFacts(
        Engine.POSTGRES,
        "pg_dump custom format (-Fc)",
        True,
        "drops and recreates the dumped objects (pg_restore --clean --if-exists)",
        _POSTGRES_PROBE,
        "backup, restore and a failed export, internal and external (zstd, age), against PostgreSQL 15",
    ),
    Engine.MYSQL: EngineFacts(
        Engine.MYSQL,
        "SQL text (mysqldump)",
        False,
        "runs the SQL into the existing database (dumped tables are dropped and recreated; others stay)",
        _MYSQL_PROBE,
        "backup, restore and a failed export, internal and external (zstd, age), against MariaDB 10.11",
    ),
    Engine.MARIADB: EngineFacts(
        Engine.MARIADB,
        "SQL text (mysqldump)",
        False,
        "runs the SQL into the existing database (dumped tables are dropped and recreated; others stay)",
        _MYSQL_PROBE,
        "backup, restore and a failed export, internal and external (zstd, age), against MariaDB 10.11",
    ),
    Engine.MONGO: EngineFacts(
        Engine.MONGO,
        "mongodump archive, gzip-compressed",
        True,
        "restores the dumped collections (mongorestore)",
        "print('dflow-probe ' + db.getCollectionNames().length + ' 0')",
        "nothing against a real server (MongoDB cannot be installed here): its commands are tested as text",
    ),
    Engine.REDIS: EngineFacts(
        Engine.REDIS,
        "RDB snapshot (only long strings are LZF-compressed)",
        False,
        "replaces the whole dataset (the service restarts on the imported RDB file)",
        "DBSIZE",
        "backup, restore and a failed export, internal and external (zstd, age), against redis-server 7",
    ),
}


def compresses(compression: Compression, engine: Engine) -> bool:
    """Whether a dump of `engine` is compressed under the service's `compression` setting."""
    if compression == Compression.AUTO:
        return not ENGINES[engine].compressed
    return compression == Compression.ZSTD
