"""Proof that the real-service fixtures work: PostgreSQL, the fake `dokku`, and sshd."""

from __future__ import annotations

import asyncssh
import pytest

from .tools import missing


def test_psql_round_trip(postgres, postgres_db):
    postgres.psql("CREATE TABLE t (id int, name text); INSERT INTO t VALUES (1, 'one')", db=postgres_db)
    assert postgres.psql("SELECT id, name FROM t", db=postgres_db) == "1|one"


def test_psql_raises_on_error(postgres):
    with pytest.raises(RuntimeError, match="does_not_exist"):
        postgres.psql("SELECT * FROM does_not_exist")


def test_dokku_list_over_ssh_shows_the_database(sshd, postgres_db):
    result = sshd.run("dokku postgres:list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "=====> Postgres services"
    assert postgres_db in lines[1:]
    assert not {"postgres", "template0", "template1"} & set(lines)


def test_export_to_a_server_file_then_import_brings_data_back(sshd, postgres, postgres_db, tmp_path):
    postgres.psql("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')", db=postgres_db)
    target = f"{postgres_db}_restored"
    postgres.create_database(target)
    dump = tmp_path / "backup.dump"
    try:
        exported = sshd.run(f"dokku postgres:export {postgres_db} > {dump}")
        assert exported.returncode == 0, exported.stderr
        assert sshd.run(f"ls {tmp_path}").stdout.split() == ["backup.dump"]

        imported = sshd.run(f"dokku postgres:import {target} < {dump}")
        assert imported.returncode == 0, imported.stderr
        assert postgres.psql("SELECT body FROM notes", db=target) == "kept"
    finally:
        postgres.drop_database(target)


def test_import_streams_from_stdin_and_rejects_garbage(sshd, postgres, postgres_db):
    postgres.psql("CREATE TABLE t (n int); INSERT INTO t VALUES (42)", db=postgres_db)
    dump = sshd.run(["dokku", "postgres:export", postgres_db], text=False, check=True).stdout
    postgres.psql("DELETE FROM t", db=postgres_db)

    restored = sshd.run(["dokku", "postgres:import", postgres_db], input=dump, text=False)
    assert restored.returncode == 0, restored.stderr
    assert postgres.psql("SELECT n FROM t", db=postgres_db) == "42"

    garbage = sshd.run(["dokku", "postgres:import", postgres_db], input=b"not a dump")
    assert garbage.returncode != 0


def test_export_of_a_missing_service_fails_with_a_message(sshd):
    result = sshd.run("dokku postgres:export no_such_service")
    assert result.returncode != 0
    assert "Postgres service no_such_service does not exist" in result.stderr
    assert result.stdout == ""


def test_other_engines_and_unknown_commands(fake_dokku, mariadb, redis_services):
    assert fake_dokku.run("version").stdout.decode().startswith("dokku version ")
    assert fake_dokku.run("redis:list").stdout.decode().startswith("=====> Redis services\n")
    missing = fake_dokku.run("mysql:export", "nobody")
    assert (
        missing.returncode == 1
        and missing.stderr.decode().strip() == "!     MySQL service nobody does not exist"
    )
    not_installed = fake_dokku.run("mongo:export", "db")
    assert not_installed.returncode != 0 and b"not installed" in not_installed.stderr
    assert fake_dokku.run("apps:destroy", "x").returncode == 1


async def test_asyncssh_accepts_the_known_hosts_file(sshd):
    async with asyncssh.connect(
        sshd.host,
        port=sshd.port,
        username=sshd.user,
        client_keys=[str(sshd.client_key_path)],
        known_hosts=str(sshd.known_hosts_path),
        agent_path=None,
    ) as conn:
        result = await conn.run("dokku version", check=True)
    assert result.stdout.startswith("dokku version ")


def test_host_key_fingerprint_matches_the_server(sshd):
    assert sshd.host_key_fingerprint.startswith("SHA256:")
    key = asyncssh.import_public_key(sshd.host_public_key)
    assert key.get_fingerprint("sha256") == sshd.host_key_fingerprint


def test_missing_tool_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install x"):
        missing("x", "apt-get install x")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        missing("x", "apt-get install x")
