"""`backup restore ID --into PATH`: a backup restored into another service of its engine,
on the same server or another one (this machine, through the local transport), the
source service untouched; through the real sshd and PostgreSQL."""

from __future__ import annotations

import pytest


def seed(postgres, db: str, *names: str) -> None:
    postgres.psql("CREATE TABLE orders (id serial primary key, customer text)", db=db)
    for name in names:
        postgres.psql(f"INSERT INTO orders (customer) VALUES ('{name}')", db=db)


def customers(postgres, db: str) -> str:
    return postgres.psql("SELECT customer FROM orders ORDER BY id", db=db)


def test_into_another_service_on_the_same_server(cli, service_path, postgres, postgres_db, second_db):
    seed(postgres, postgres_db, "Ada", "Grace")
    seed(postgres, second_db, "Mallory")
    target = f"shop/production/{second_db}"
    cli("service", "add", target, "--engine", "postgres")
    backup_id = cli("backup", "create", service_path).stdout.strip()

    restored = cli("backup", "restore", backup_id, "--into", target, "--yes")
    assert f"Restored backup {backup_id} into {target}" in restored.stdout
    assert customers(postgres, second_db) == "Ada\nGrace"
    assert customers(postgres, postgres_db) == "Ada\nGrace"  # the source, untouched
    [safety] = cli.json("backup", "list", target)  # the target's live data was kept first
    assert safety["trigger"] == "safety" and safety["status"] == "succeeded"
    assert [b["trigger"] for b in cli.json("backup", "list", service_path)] == ["manual"]


@pytest.mark.parametrize("destination", ["internal", "external"])
def test_into_a_service_on_another_server(
    cli, service_path, postgres, postgres_db, second_db, local_server, destination, request
):
    if destination == "external":
        moto_s3 = request.getfixturevalue("moto_s3")
        request.getfixturevalue("memory_keyring")
        moto_s3.make_bucket("dflow-into-e2e", versioned=True)
        cli.add_provider("b2", moto_s3, "dflow-into-e2e")
        cli("storage", "verify", "b2")
        cli("destination", "set", service_path, "external", "--provider", "b2")
    seed(postgres, postgres_db, "Ada", "Grace")
    seed(postgres, second_db, "Mallory")
    target = f"staging/main/{second_db}"
    cli("service", "add", target, "--engine", "postgres")
    backup_id = cli("backup", "create", service_path).stdout.strip()

    cli("backup", "restore", backup_id, "--into", target, "--yes", "--no-safety-backup")
    assert customers(postgres, second_db) == "Ada\nGrace"
    assert customers(postgres, postgres_db) == "Ada\nGrace"
    [entry] = [e for e in cli.json("audit", "--service", target) if e["action"] == "backup.restore"]
    assert entry["result"] == "succeeded" and entry["target"] == f"backup {backup_id}"


def test_refused_into_another_engine_or_nowhere_in_one_line(cli, service_path, postgres, postgres_db):
    cli("service", "add", "shop/production/cache", "--engine", "redis")
    backup_id = cli("backup", "create", service_path).stdout.strip()
    other_engine = cli.process(
        "backup", "restore", backup_id, "--into", "shop/production/cache", "--yes", ok=False
    )
    assert other_engine.stderr.splitlines() == [
        f"Error: Backup {backup_id} is a postgres dump and shop/production/cache is a redis service: "
        "a backup restores only into a service of its own engine"
    ]
    nowhere = cli.process("backup", "restore", backup_id, "--into", "shop/production/nope", "--yes", ok=False)
    assert nowhere.stderr.splitlines() == [
        "Error: No service 'shop/production/nope' (see `dflow-tui service list`)"
    ]
    assert all(b["trigger"] == "manual" for b in cli.json("backup", "list", service_path))
