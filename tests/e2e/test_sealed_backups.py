"""Compressed and encrypted external backups, through real sshd + PostgreSQL into moto's S3,
read back by dflow-tui and by the standard `age` and `zstd` tools."""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

BUCKET = "dflow-sealed-e2e"


@pytest.fixture
def provider(cli, moto_s3, memory_keyring) -> str:
    moto_s3.make_bucket(BUCKET, versioned=True)
    cli.add_provider("b2", moto_s3, BUCKET)
    cli("storage", "verify", "b2")
    return "b2"


def _orders(postgres, db: str) -> str:
    return postgres.psql("SELECT customer FROM orders ORDER BY id", db=db)


def _seed(postgres, db: str) -> None:
    postgres.psql("CREATE TABLE orders (id int primary key, customer text)", db=db)
    postgres.psql(
        "INSERT INTO orders SELECT i, 'customer sealed-marker-' || i FROM generate_series(1, 2000) AS i",
        db=db,
    )


def _stored(cli, moto_s3, path: str) -> tuple[dict, str, bytes]:
    [row] = [b for b in cli.json("backup", "list", path) if b["status"] == "succeeded"]
    key = row["location"].removeprefix(f"s3://{BUCKET}/")
    body = moto_s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return row, key, body


def _open_with_the_standard_tools(body: bytes, layers: str, key_file: Path, tools: dict[str, str]) -> bytes:
    if "age" in layers:
        body = subprocess.run(
            [tools["age"], "-d", "-i", str(key_file)], input=body, capture_output=True, check=True
        ).stdout
    if "zstd" in layers:
        body = subprocess.run([tools["zstd"], "-d", "-c"], input=body, capture_output=True, check=True).stdout
    return body


def _plain_dump(sshd, db: str) -> bytes:
    return sshd.run(["dokku", "postgres:export", db], text=False, check=True).stdout


@pytest.mark.parametrize("layers", ["zstd", "age", "zstd+age"])
def test_sealed_round_trip_and_no_plaintext_in_the_bucket(
    cli, service_path, provider, postgres, postgres_db, moto_s3, sshd, age_key, tools, layers
):
    _seed(postgres, postgres_db)
    key_file, public = age_key
    compression = "zstd" if "zstd" in layers else "none"
    cli("destination", "set", service_path, "external", "--provider", provider, "--compression", compression)
    if "age" in layers:
        cli("storage", "encrypt", provider, "--recipient", public)

    backup_id = cli("backup", "create", service_path).stdout.strip()
    row, key, body = _stored(cli, moto_s3, service_path)
    plain = _plain_dump(sshd, postgres_db)

    suffix = {"zstd": ".dump.zst", "age": ".dump.age", "zstd+age": ".dump.zst.age"}[layers]
    assert key.endswith(suffix) and f"/shop/production/{postgres_db}-" in key
    assert row["compression"] == ("zstd" if "zstd" in layers else None)
    assert row["stored_size_bytes"] == len(body) and row["stored_sha256"] == hashlib.sha256(body).hexdigest()
    opened = _open_with_the_standard_tools(body, layers, key_file, tools)
    assert row["size_bytes"] == len(opened) and row["sha256"] == hashlib.sha256(opened).hexdigest()
    assert opened.startswith(b"PGDMP")
    if "age" in layers:
        assert body.startswith(b"age-encryption.org/v1\n")
        assert len(row["encrypted_for"]) == 1
        # Nothing of the dump shows through: not its header, not any 48-byte stretch of it.
        assert b"PGDMP" not in body
        assert not any(plain[i : i + 48] in body for i in range(0, len(plain) - 48, 997))
    else:
        assert body.startswith(b"\x28\xb5\x2f\xfd")  # a zstd frame

    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)
    restore = ["backup", "restore", backup_id, "--yes", "--no-safety-backup"]
    if "age" in layers:
        restore += ["--identity", str(key_file)]
    cli(*restore)
    assert _orders(postgres, postgres_db).startswith("customer sealed-marker-1\n")


def test_the_standard_tools_restore_an_object_without_dflow(
    cli, service_path, provider, postgres, postgres_db, moto_s3, sshd, age_key, tools, tmp_path
):
    """README's manual recovery: `aws s3 cp … - | age -d -i key.txt | zstd -d | dokku postgres:import DB`
    (the object is fetched with boto3 here: the test venv has no awscli)."""
    _seed(postgres, postgres_db)
    key_file, public = age_key
    cli("destination", "set", service_path, "external", "--provider", provider, "--compression", "zstd")
    cli("storage", "encrypt", provider, "--recipient", public)
    cli("backup", "create", service_path)
    _row, key, _body = _stored(cli, moto_s3, service_path)
    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)

    fetch = (
        "import boto3, shutil, sys; "
        f"s3 = boto3.client('s3', endpoint_url={moto_s3.endpoint_url!r}, region_name={moto_s3.region!r}, "
        f"aws_access_key_id={moto_s3.access_key_id!r}, aws_secret_access_key={moto_s3.secret_access_key!r}); "
        f"shutil.copyfileobj(s3.get_object(Bucket={BUCKET!r}, Key={key!r})['Body'], sys.stdout.buffer)"
    )
    importer = shlex.join([*sshd.ssh_args(), f"dokku postgres:import {postgres_db}"])
    recipe = (
        f"{shlex.quote(sys.executable)} -c {shlex.quote(fetch)} "
        f"| {tools['age']} -d -i {shlex.quote(str(key_file))} | {tools['zstd']} -d | {importer}"
    )
    subprocess.run(["bash", "-o", "pipefail", "-c", recipe], check=True, capture_output=True, timeout=120)
    assert _orders(postgres, postgres_db).startswith("customer sealed-marker-1\n")


def test_an_ssh_key_can_be_the_recipient_and_its_private_key_the_identity(
    cli, service_path, provider, postgres, postgres_db, moto_s3, sshd, tmp_path
):
    _seed(postgres, postgres_db)
    public = Path(str(sshd.client_key_path) + ".pub").read_text().strip()
    cli("destination", "set", service_path, "external", "--provider", provider)
    cli("storage", "encrypt", provider, "--recipient", public)
    [provider_row] = cli.json("storage", "list")
    [recipient] = provider_row["recipients"]
    assert recipient["key"].startswith("ssh-ed25519 ") and recipient["fingerprint"].startswith("sha256:")
    backup_id = cli("backup", "create", service_path).stdout.strip()

    cli("identity", "add", "ops-key", str(sshd.client_key_path))  # saved in the keyring
    [saved] = cli.json("identity", "list")
    assert saved["name"] == "ops-key" and recipient["fingerprint"] in saved["fingerprints"]
    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)
    cli("backup", "restore", backup_id, "--yes", "--no-safety-backup")  # no --identity: the saved one
    assert _orders(postgres, postgres_db).startswith("customer sealed-marker-1\n")


def test_a_missing_or_wrong_identity_refuses_before_anything_is_imported(
    cli, service_path, provider, postgres, postgres_db, age_key, tools, tmp_path
):
    _seed(postgres, postgres_db)
    _key_file, public = age_key
    cli("destination", "set", service_path, "external", "--provider", provider)
    cli("storage", "encrypt", provider, "--recipient", public)
    backup_id = cli("backup", "create", service_path).stdout.strip()
    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)

    missing_identity = cli("backup", "restore", backup_id, "--yes", ok=False)
    assert "is encrypted for sha256:" in missing_identity.output
    assert "needs the matching identity" in missing_identity.output

    other = tmp_path / "someone-else.txt"
    subprocess.run([tools["age-keygen"], "-o", str(other)], check=True, capture_output=True)
    wrong = cli("backup", "restore", backup_id, "--yes", "--identity", str(other), ok=False)
    assert "is not one of them: nothing was restored" in wrong.output
    assert "AGE-SECRET-KEY" not in wrong.output
    assert set(_orders(postgres, postgres_db).split("\n")) == {"Mallory"}
    # Refused before it was recorded: no safety backup taken, no operation left.
    assert len(cli.json("backup", "list", service_path)) == 1


def test_a_tampered_object_is_refused_before_import(
    cli, service_path, provider, postgres, postgres_db, moto_s3, age_key
):
    _seed(postgres, postgres_db)
    key_file, public = age_key
    cli("destination", "set", service_path, "external", "--provider", provider, "--compression", "zstd")
    cli("storage", "encrypt", provider, "--recipient", public)
    backup_id = cli("backup", "create", service_path).stdout.strip()
    _row, key, body = _stored(cli, moto_s3, service_path)
    tampered = body[:-40] + bytes(b ^ 0xFF for b in body[-40:])
    moto_s3.client().put_object(Bucket=BUCKET, Key=key, Body=tampered)  # a newer version
    cli.json("backup", "list", service_path)  # still listed as success
    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)

    # The record pins the version it wrote: restore the tampered one by pointing the record at it.
    s3 = moto_s3.client()
    newest = s3.head_object(Bucket=BUCKET, Key=key)["VersionId"]
    asyncio.run(_point_record_at(cli, int(backup_id), newest))
    result = cli(
        "backup", "restore", backup_id, "--yes", "--identity", str(key_file), "--no-safety-backup", ok=False
    )
    assert "the object is damaged or is not the one recorded" in result.output, result.output
    assert set(_orders(postgres, postgres_db).split("\n")) == {"Mallory"}


async def _point_record_at(cli, backup_id: int, version_id: str) -> None:
    from dflow_tui.store.queries import rows
    from dflow_tui.store.tables import Backup

    app = await cli.open_app()
    try:
        await rows.update(app.db, Backup, backup_id, version_id=version_id)
    finally:
        await app.close()
