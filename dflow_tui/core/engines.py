"""What each Dokku datastore plugin's export is, and what its import does: in one place.

`compressed` is what `--compression auto` reads: an export that is compressed already is
stored as it is (compressing it again costs time for nothing).
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


ENGINES: dict[Engine, EngineFacts] = {
    Engine.POSTGRES: EngineFacts(
        Engine.POSTGRES,
        "pg_dump custom format (-Fc)",
        True,
        "drops and recreates the dumped objects (pg_restore --clean --if-exists)",
    ),
    Engine.MYSQL: EngineFacts(
        Engine.MYSQL, "SQL text (mysqldump)", False, "runs the SQL into the existing database"
    ),
    Engine.MARIADB: EngineFacts(
        Engine.MARIADB, "SQL text (mysqldump)", False, "runs the SQL into the existing database"
    ),
    Engine.MONGO: EngineFacts(
        Engine.MONGO,
        "mongodump archive, gzip-compressed",
        True,
        "restores the dumped collections (mongorestore)",
    ),
    Engine.REDIS: EngineFacts(
        Engine.REDIS,
        "RDB snapshot (only long strings are LZF-compressed)",
        False,
        "replaces the whole dataset",
    ),
}


def compresses(compression: Compression, engine: Engine) -> bool:
    """Whether a dump of `engine` is compressed under the service's `compression` setting."""
    if compression == Compression.AUTO:
        return not ENGINES[engine].compressed
    return compression == Compression.ZSTD
