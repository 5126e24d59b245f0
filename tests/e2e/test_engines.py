"""Every engine for real: postgres, mysql, mariadb and redis services backed by real
servers (PostgreSQL, MariaDB, one redis-server per service) behind the `dokku` script,
through the real sshd — backed up to the server's disk and (compressed as `auto` says,
age-encrypted) to moto's S3, the data changed, restored, and the data is back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from infra.tools import find_program, missing

BUCKET = "dflow-engines-e2e"


@pytest.fixture
def age_key(tmp_path) -> tuple[Path, str]:
    tools = {name: find_program(name) for name in ("age-keygen", "age", "zstd")}
    for name, found in tools.items():
        if found is None:
            missing(f"the standard {name} tool", "apt-get install age zstd")
    key_file = tmp_path / "key.txt"
    subprocess.run([str(tools["age-keygen"]), "-o", str(key_file)], check=True, capture_output=True)
    public = subprocess.run(
        [str(tools["age-keygen"]), "-y", str(key_file)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return key_file, public


def test_internal_backup_change_restore_the_data_is_back(cli, service, engine, backup_dir):
    path, made = service
    assert made.customers() == ["Ada", "Grace"]
    backup_id = cli("backup", "create", path).stdout.strip()
    [row] = cli.json("backup", "list", path)
    dump = Path(row["location"])
    stored = dump.read_bytes()
    if engine.compressed_by_auto:  # compressed on the server with zstd, as `auto` chose
        assert row["compression"] == "zstd" and dump.name.endswith(".zst")
        stored = subprocess.run(["zstd", "-d", "-c"], input=stored, capture_output=True, check=True).stdout
    else:
        assert row["compression"] is None
    assert engine.dump_mark in stored[:200]

    made.dokku("connect", engine.change)
    assert made.customers() == ["Mallory", "Grace", "Eve"]
    cli("backup", "restore", backup_id, "--yes", "--no-safety-backup")
    assert made.customers() == ["Ada", "Grace"]


def test_external_sealed_backup_change_restore_the_data_is_back(
    cli, service, engine, moto_s3, memory_keyring, age_key
):
    path, made = service
    key_file, public = age_key
    moto_s3.make_bucket(BUCKET, versioned=True)
    cli.add_provider("b2", moto_s3, BUCKET)
    cli("storage", "verify", "b2")
    cli("storage", "encrypt", "b2", "--recipient", public)
    cli("destination", "set", path, "external", "--provider", "b2")

    backup_id = cli("backup", "create", path).stdout.strip()
    [row] = cli.json("backup", "list", path)
    key = row["location"].removeprefix(f"s3://{BUCKET}/")
    body = moto_s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body.startswith(b"age-encryption.org/v1\n") and engine.dump_mark not in body
    opened = subprocess.run(
        ["age", "-d", "-i", str(key_file)], input=body, capture_output=True, check=True
    ).stdout
    if engine.compressed_by_auto:
        assert key.endswith(".zst.age")
        opened = subprocess.run(["zstd", "-d", "-c"], input=opened, capture_output=True, check=True).stdout
    assert engine.dump_mark in opened[:200] and len(opened) == row["size_bytes"]

    made.dokku("connect", engine.change)
    cli("backup", "restore", backup_id, "--yes", "--no-safety-backup", "--identity", str(key_file))
    assert made.customers() == ["Ada", "Grace"]


def test_a_missing_service_fails_with_the_engines_own_reason_and_leaves_no_file(
    cli, service, engine, backup_dir
):
    path, made = service
    made.dokku("destroy")
    result = cli("backup", "create", path, ok=False)
    [row] = cli.json("backup", "list", path)
    assert row["status"] == "failed"
    label = {"postgres": "Postgres", "mysql": "MySQL", "mariadb": "MariaDB", "redis": "Redis"}[engine.name]
    assert f"{label} service {made.name} does not exist" in row["error"]
    assert f"{label} service {made.name} does not exist" in result.output
    assert not backup_dir.exists() or list(backup_dir.iterdir()) == []
