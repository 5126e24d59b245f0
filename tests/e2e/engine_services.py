"""The engines the tests back with real servers, and a service of one made for a test:
its data written and read through `dokku ENGINE:connect` over the real sshd."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Engine:
    """How the test writes and reads one engine's data, through `dokku ENGINE:connect`."""

    name: str
    server_fixture: str  # the real server behind it
    seed: str
    change: str
    read: str
    dump_mark: bytes  # in the export's first bytes: its magic or header
    compressed_by_auto: bool


SQL_SEED = "CREATE TABLE orders (id int primary key, customer varchar(40));\nINSERT INTO orders VALUES (1, 'Ada'), (2, 'Grace');\n"
SQL_CHANGE = "UPDATE orders SET customer = 'Mallory' WHERE id = 1;\nINSERT INTO orders VALUES (3, 'Eve');\n"
SQL_READ = "SELECT customer FROM orders ORDER BY id;\n"

ENGINES = {
    "postgres": Engine("postgres", "postgres", SQL_SEED, SQL_CHANGE, SQL_READ, b"PGDMP", False),
    "mysql": Engine("mysql", "mariadb", SQL_SEED, SQL_CHANGE, SQL_READ, b"-- MariaDB dump", True),
    "mariadb": Engine("mariadb", "mariadb", SQL_SEED, SQL_CHANGE, SQL_READ, b"-- MariaDB dump", True),
    "redis": Engine(
        "redis",
        "redis_services",
        "SET customer:1 Ada\nSET customer:2 Grace\n",
        "SET customer:1 Mallory\nSET customer:3 Eve\n",
        "MGET customer:1 customer:2 customer:3\n",
        b"REDIS",
        True,
    ),
}


def customers(output: str) -> list[str]:
    """The names in a read's output, whatever the client's table format."""
    return [word for word in output.split() if word in {"Ada", "Grace", "Mallory", "Eve"}]


class Service:
    """A service of one engine on the real sshd's `dokku`, made for one test."""

    def __init__(self, sshd, engine: Engine) -> None:
        self.sshd = sshd
        self.engine = engine
        self.name = f"{engine.name}-{uuid.uuid4().hex[:8]}"

    def dokku(self, action: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = self.sshd.run(["dokku", f"{self.engine.name}:{action}", self.name], input=input or "")
        if check and done.returncode != 0:
            raise AssertionError(f"dokku {self.engine.name}:{action} {self.name}: {done.stderr}")
        return done

    def customers(self) -> list[str]:
        return customers(self.dokku("connect", self.engine.read).stdout)
