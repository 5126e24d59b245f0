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
        "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema');",
        "backup, restore and a failed export, internal and external (zstd, age), against PostgreSQL 15",
    ),
    Engine.MYSQL: EngineFacts(
        Engine.MYSQL,
        "SQL text (mysqldump)",
        False,
        "runs the SQL into the existing database (dumped tables are dropped and recreated; others stay)",
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE();",
        "backup, restore and a failed export, internal and external (zstd, age), against MariaDB 10.11",
    ),
    Engine.MARIADB: EngineFacts(
        Engine.MARIADB,
        "SQL text (mysqldump)",
        False,
        "runs the SQL into the existing database (dumped tables are dropped and recreated; others stay)",
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE();",
        "backup, restore and a failed export, internal and external (zstd, age), against MariaDB 10.11",
    ),
    Engine.MONGO: EngineFacts(
        Engine.MONGO,
        "mongodump archive, gzip-compressed",
        True,
        "restores the dumped collections (mongorestore)",
        "db.getCollectionNames().length",
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
