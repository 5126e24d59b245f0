"""`dflow-tui --demo` offers a second engine: a MariaDB service beside the Postgres one,
backed up and restored through the demo's `dokku` like any other."""

from __future__ import annotations

import sqlite3

import pytest
from infra.sandbox import make_sandbox

from dflow_tui.demo.sandbox import DEMO_SECOND_SERVICE, DEMO_SERVICE
from dflow_tui.service import Dflow


def customers(database) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT customer FROM invoices ORDER BY id")]


@pytest.fixture
def second_engine_sandbox(tmp_path, monkeypatch):
    return make_sandbox(tmp_path / "demo", monkeypatch, second_engine=True)  # before the test's loop runs


async def test_the_demo_has_a_mariadb_service_that_backs_up_and_restores(
    second_engine_sandbox, tmp_path, clock
):
    settings = second_engine_sandbox
    app = await Dflow.open(settings, clock=clock)
    try:
        services = {service.path: service.engine for service in await app.inventory.list_services()}
        assert services == {DEMO_SERVICE: "postgres", DEMO_SECOND_SERVICE: "mariadb"}

        backup = await app.backups.create(DEMO_SECOND_SERVICE)
        assert backup.status == "succeeded", backup.error
        database = tmp_path / "demo" / "databases" / "mariadb" / "billing-db.sqlite"
        with sqlite3.connect(database) as connection:
            connection.execute("UPDATE invoices SET customer = 'Mallory'")
        assert customers(database) == ["Mallory", "Mallory"]
        restored = await app.backups.restore(backup.id, safety_backup=False)
        assert restored.status == "succeeded", restored.error
        assert customers(database) == ["Ada", "Grace"]
    finally:
        await app.close()
