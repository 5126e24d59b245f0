"""Copies in more than one place: one export through real sshd + PostgreSQL, stored on the
server's disk and in two moto buckets at once (one age-encrypted), read back with Debian's
`age` and `zstd`; a place that is down; delete; the refusals of `destination set`."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from infra.receiver import HttpReceiver

B2 = "dflow-copies-b2"
R2 = "dflow-copies-r2"


@pytest.fixture
def buckets(cli, moto_s3, memory_keyring) -> tuple[str, str]:
    """Two verified providers, b2 and r2, each with a versioned bucket of its own."""
    for name, bucket in (("b2", B2), ("r2", R2)):
        moto_s3.make_bucket(bucket, versioned=True)
        cli.add_provider(name, moto_s3, bucket)
        cli("storage", "verify", name)
    return "b2", "r2"


@pytest.fixture
def receiver():
    with HttpReceiver() as server:
        yield server


def _seed(postgres, db: str) -> None:
    postgres.psql("CREATE TABLE orders (id int primary key, customer text)", db=db)
    postgres.psql(
        "INSERT INTO orders SELECT i, 'customer copies-marker-' || i FROM generate_series(1, 3000) AS i",
        db=db,
    )


def _open(body: bytes, tools: dict[str, str], *, key_file: Path | None = None, zstd: bool = False) -> bytes:
    if key_file is not None:
        body = subprocess.run(
            [tools["age"], "-d", "-i", str(key_file)], input=body, capture_output=True, check=True
        ).stdout
    if zstd:
        body = subprocess.run([tools["zstd"], "-d", "-c"], input=body, capture_output=True, check=True).stdout
    return body


def _body(moto_s3, location: str) -> bytes:
    bucket, key = location.removeprefix("s3://").split("/", 1)
    return moto_s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def _versions(moto_s3, bucket: str) -> list[dict]:
    page = moto_s3.client().list_object_versions(Bucket=bucket)
    return [*page.get("Versions", []), *page.get("DeleteMarkers", [])]


def _dumps(backup_dir: Path) -> list[str]:
    return sorted(p.name for p in backup_dir.iterdir()) if backup_dir.exists() else []


def _remove_bucket(moto_s3, bucket: str) -> None:
    """The bucket goes after its provider was verified (a provider's account closed, say)."""
    s3 = moto_s3.client()
    for version in _versions(moto_s3, bucket):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=bucket)


def test_one_export_lands_in_three_places_restores_and_is_deleted_from_all(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir, age_key, tools
):
    _seed(postgres, postgres_db)
    key_file, public = age_key
    cli("storage", "encrypt", "r2", "--recipient", public)
    said = cli(
        "destination",
        "set",
        service_path,
        "external",
        "--provider",
        "b2",
        "--copy",
        "internal",
        "--copy",
        "r2",
        "--compression",
        "zstd",
    )
    assert said.stdout.strip() == (
        f"{service_path}: next backups go to external (b2), copies to internal, r2, compression zstd"
    )
    [service] = cli.json("service", "list")
    assert (service["destination"], service["provider"], service["copies"]) == (
        "external",
        "b2",
        ["internal", "r2"],
    )

    backup_id = cli("backup", "create", service_path).stdout.strip()
    [row] = cli.json("backup", "list", service_path)
    assert (row["status"], row["degraded"], row["destination"]) == ("succeeded", False, "b2")
    assert [(c["destination"], c["status"], c["error"]) for c in row["copies"]] == [
        ("internal", "succeeded", None),
        ("r2", "succeeded", None),
    ]
    internal, r2 = row["copies"]

    # Each place holds the same plain dump under its own layers, read with the standard tools.
    in_b2 = _body(moto_s3, row["location"])
    assert row["location"].startswith(f"s3://{B2}/") and row["location"].endswith(".dump.zst")
    on_disk = Path(internal["location"]).read_bytes()
    assert Path(internal["location"]).parent == backup_dir and internal["location"].endswith(".dump.zst")
    in_r2 = _body(moto_s3, r2["location"])
    assert r2["location"].startswith(f"s3://{R2}/") and r2["location"].endswith(".dump.zst.age")
    assert in_r2.startswith(b"age-encryption.org/v1\n") and b"PGDMP" not in in_r2
    for stored, copy in ((on_disk, internal), (in_r2, r2)):
        assert (copy["stored_size"], copy["sha256"]) == (len(stored), hashlib.sha256(stored).hexdigest())
    assert row["stored_sha256"] == hashlib.sha256(in_b2).hexdigest()
    plains = [
        _open(in_b2, tools, zstd=True),
        _open(on_disk, tools, zstd=True),
        _open(in_r2, tools, key_file=key_file, zstd=True),
    ]
    assert {hashlib.sha256(p).hexdigest() for p in plains} == {row["sha256"]}
    assert len(plains[0]) == row["size_bytes"] and plains[0].startswith(b"PGDMP")
    assert _dumps(backup_dir) == [Path(internal["location"]).name]  # no partial, no fifo left

    table = cli("backup", "list", service_path).stdout
    assert "b2+int+r2" in table and "degraded" not in table

    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)
    cli("backup", "restore", backup_id, "--yes", "--no-safety-backup")
    restored = postgres.psql("SELECT customer FROM orders ORDER BY id LIMIT 1", db=postgres_db)
    assert restored == "customer copies-marker-1"

    cli("backup", "delete", backup_id, "--yes")
    assert cli.json("backup", "list", service_path) == []
    assert _dumps(backup_dir) == []
    assert _versions(moto_s3, B2) == [] and _versions(moto_s3, R2) == []
    [gone] = cli.json("backup", "list", service_path, "--all")
    assert [c["status"] for c in gone["copies"]] == ["deleted", "deleted"]


def test_a_copy_that_is_down_makes_the_backup_degraded_and_says_so(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir, receiver
):
    _seed(postgres, postgres_db)
    url = receiver.url.replace("http://", "json://") + "/hooks/ops"
    cli("notify", "add", "ops", input=url + "\n")
    cli("destination", "set", service_path, "internal", "--copy", "b2", "--copy", "r2")
    _remove_bucket(moto_s3, R2)

    backup_id = int(cli("backup", "create", service_path).stdout)
    [row] = cli.json("backup", "list", service_path)
    assert (row["id"], row["status"], row["degraded"]) == (backup_id, "succeeded", True)
    b2, r2 = row["copies"]
    assert (b2["destination"], b2["status"], b2["error"]) == ("b2", "succeeded", None)
    assert (r2["destination"], r2["status"]) == ("r2", "failed")
    assert "NoSuchBucket" in r2["error"] or "does not exist" in r2["error"]
    assert Path(row["location"]).exists()
    assert hashlib.sha256(_body(moto_s3, b2["location"])).hexdigest() == row["sha256"]

    table = cli("backup", "list", service_path).stdout
    assert "int+b2+r2" in table and "succeeded (degraded)" in table and "copy to r2 failed" in table

    [message] = [json.loads(body) for _method, _path, body in receiver.requests]
    assert message["type"] == "failure"
    assert message["title"] == f"Backup degraded: {service_path} (copy to r2 failed)"
    assert "copy to r2 failed: " in message["message"] and "b2" not in message["title"]

    # Still down at the next backup: no second message (the streak is one incident,
    # reminded while it lasts); back at the one after: one message that it is whole again.
    cli("backup", "create", service_path)
    assert len(receiver.requests) == 1
    moto_s3.make_bucket(R2, versioned=True)
    cli("backup", "create", service_path)
    titles = [json.loads(body)["title"] for _method, _path, body in receiver.requests]
    assert titles[1:] == [f"Backups whole again: {service_path}"]


def test_when_the_primary_fails_nothing_is_left_in_the_other_places(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir
):
    _seed(postgres, postgres_db)
    cli(
        "destination",
        "set",
        service_path,
        "external",
        "--provider",
        "b2",
        "--copy",
        "internal",
        "--copy",
        "r2",
    )
    _remove_bucket(moto_s3, B2)

    failed = cli("backup", "create", service_path, ok=False)
    assert "failed" in failed.output
    [row] = cli.json("backup", "list", service_path)
    assert row["status"] == "failed" and row["degraded"] is False
    assert [(c["destination"], c["status"]) for c in row["copies"]] == [
        ("internal", "failed"),
        ("r2", "failed"),
    ]
    assert all(c["error"].startswith("Not kept: the backup failed") for c in row["copies"])
    assert _dumps(backup_dir) == []
    assert _versions(moto_s3, R2) == [] and moto_s3.multipart_uploads(R2) == []


def test_when_the_export_fails_no_place_keeps_anything(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir
):
    cli("destination", "set", service_path, "internal", "--copy", "b2", "--copy", "r2")
    postgres.drop_database(postgres_db)  # the export fails on the server

    cli("backup", "create", service_path, ok=False)
    [row] = cli.json("backup", "list", service_path)
    assert row["status"] == "failed" and "does not exist" in row["error"]
    assert [c["status"] for c in row["copies"]] == ["failed", "failed"]
    assert _dumps(backup_dir) == []
    for bucket in (B2, R2):
        assert _versions(moto_s3, bucket) == [] and moto_s3.multipart_uploads(bucket) == []
    postgres.create_database(postgres_db)


def test_a_copy_that_cannot_be_removed_keeps_the_backup_until_a_later_delete(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir
):
    _seed(postgres, postgres_db)
    cli("destination", "set", service_path, "internal", "--copy", "b2")
    backup_id = cli("backup", "create", service_path).stdout.strip()
    [row] = cli.json("backup", "list", service_path)
    [b2] = row["copies"]
    key = b2["location"].removeprefix(f"s3://{B2}/")

    # The bucket refuses deletes while the delete runs (its key lost the permission).
    iam = moto_s3.client("iam")
    allow_all = iam.get_user_policy(UserName="dflow-admin", PolicyName="dflow-admin-policy")["PolicyDocument"]
    no_deletes = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"], "Resource": "*"},
        ],
    }
    iam.put_user_policy(
        UserName="dflow-admin", PolicyName="dflow-admin-policy", PolicyDocument=json.dumps(no_deletes)
    )
    try:
        refused = cli("backup", "delete", backup_id, "--yes", ok=False)
    finally:
        iam.put_user_policy(
            UserName="dflow-admin", PolicyName="dflow-admin-policy", PolicyDocument=json.dumps(allow_all)
        )
    assert "1 of its copies could not be removed" in refused.output
    [kept] = cli.json("backup", "list", service_path)
    assert kept["id"] == int(backup_id) and kept["copies"][0]["error"].startswith("Not removed yet: ")
    assert Path(kept["location"]).exists()  # the primary is left whole: still restorable

    cli("backup", "delete", backup_id, "--yes")
    assert cli.json("backup", "list", service_path) == []
    assert _dumps(backup_dir) == [] and moto_s3.versions_of(B2, key) == []


def test_destination_set_refuses_copies_it_cannot_keep(cli, service_path, buckets, moto_s3):
    moto_s3.make_bucket("dflow-copies-unverified")
    cli.add_provider("s3", moto_s3, "dflow-copies-unverified")  # never verified

    def refusal(*args: str) -> str:
        result = cli("destination", "set", service_path, *args, ok=False)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        return lines[0]

    assert refusal("internal", "--copy", "s3") == (
        "Error: Storage provider 's3' is not verified (Not verified yet); run `dflow-tui storage verify s3`"
    )
    assert refusal("internal", "--copy", "b2", "--copy", "b2") == (
        "Error: Copy 'b2' is given twice: each place holds one copy"
    )
    assert refusal("external", "--provider", "b2", "--copy", "b2") == (
        "Error: Copy 'b2' is where the primary goes already: a copy goes to another place"
    )
    assert refusal("internal", "--copy", "internal") == (
        "Error: Copy 'internal' is where the primary goes already: a copy goes to another place"
    )
    assert refusal("internal", "--copy", "nowhere") == (
        "Error: No storage provider named 'nowhere' (see `dflow-tui storage list`)"
    )
    [service] = cli.json("service", "list")
    assert service["copies"] == []  # nothing refused was saved

    cli("destination", "set", service_path, "internal", "--copy", "b2")
    assert cli.json("service", "list")[0]["copies"] == ["b2"]
    cli("destination", "set", service_path, "internal")  # the whole destination: no copies now
    assert cli.json("service", "list")[0]["copies"] == []


def test_a_scheduled_backup_keeps_its_copies_and_retention_removes_every_copy(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir
):

    postgres.psql("CREATE TABLE t (v int)", db=postgres_db)
    cli("destination", "set", service_path, "internal", "--copy", "b2")
    ids = [int(cli("backup", "create", service_path).stdout) for _ in range(7)]
    cli.age_into_daily_backups(ids)
    oldest = cli.json("backup", "list", service_path)[-1]
    [oldest_copy] = oldest["copies"]

    cli("schedule", "set", service_path, "--tier", "daily")  # queued by the scheduler's pass
    cli("worker", "--once")

    rows = cli.json("backup", "list", service_path)
    assert len(rows) == 7 and oldest["id"] not in [r["id"] for r in rows]
    newest = rows[0]
    assert (newest["trigger"], newest["status"], newest["degraded"]) == ("scheduled", "succeeded", False)
    assert [(c["destination"], c["status"]) for c in newest["copies"]] == [("b2", "succeeded")]
    assert not Path(oldest["location"]).exists()
    assert moto_s3.versions_of(B2, oldest_copy["location"].removeprefix(f"s3://{B2}/")) == []
    kept = {v["Key"] for v in _versions(moto_s3, B2)}
    assert kept == {r["copies"][0]["location"].removeprefix(f"s3://{B2}/") for r in rows}


# --- restore falls back across copies ---------------------------------------------------


def _restored_line(result) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_a_restore_passes_over_a_tampered_file_on_disk_and_says_which_copy_it_used(
    cli, service_path, buckets, postgres, postgres_db, backup_dir
):
    _seed(postgres, postgres_db)
    cli("destination", "set", service_path, "external", "--provider", "b2", "--copy", "internal")
    backup_id = cli("backup", "create", service_path).stdout.strip()
    [row] = cli.json("backup", "list", service_path)
    [internal] = row["copies"]
    on_disk = Path(internal["location"])
    tampered = bytearray(on_disk.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF  # one byte changed on the server's disk
    on_disk.write_bytes(bytes(tampered))

    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)
    result = cli("backup", "restore", backup_id, "--yes", "--no-safety-backup")
    assert (
        _restored_line(result) == f"Restored backup {backup_id} into {service_path} (from the primary in b2)"
    )
    assert "reading the dump from the copy on the server's disk" in result.stderr
    assert "the copy on the server's disk cannot be used (The dump does not match its record" in result.stderr
    assert "trying the primary in b2" in result.stderr
    [audited] = [e for e in cli.json("audit") if e["action"] == "backup.restore"]
    assert (audited["result"], audited["detail"]) == ("succeeded", "from the primary in b2")
    restored = postgres.psql("SELECT customer FROM orders ORDER BY id LIMIT 1", db=postgres_db)
    assert restored == "customer copies-marker-1"
    assert _dumps(backup_dir) == [on_disk.name]  # the download's temp file is gone


def test_a_restore_reads_the_first_copy_that_is_still_there(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir, age_key, tools
):
    _seed(postgres, postgres_db)
    key_file, public = age_key
    cli("storage", "encrypt", "r2", "--recipient", public)
    cli("destination", "set", service_path, "internal", "--copy", "b2", "--copy", "r2")
    backup_id = cli("backup", "create", service_path).stdout.strip()
    [row] = cli.json("backup", "list", service_path)
    b2, _r2 = row["copies"]
    Path(row["location"]).unlink()  # the primary's file is gone from the server
    s3 = moto_s3.client()
    for version in _versions(moto_s3, B2):  # and the object in b2
        s3.delete_object(Bucket=B2, Key=version["Key"], VersionId=version["VersionId"])

    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)
    result = cli("backup", "restore", backup_id, "--yes", "--no-safety-backup", "--identity", str(key_file))
    assert _restored_line(result) == f"Restored backup {backup_id} into {service_path} (from the copy in r2)"
    assert "the primary on the server's disk cannot be used (Dump " in result.stderr
    assert "is missing on the server); trying the copy in b2" in result.stderr
    assert "the copy in b2 cannot be used (" in result.stderr
    restored = postgres.psql("SELECT customer FROM orders ORDER BY id LIMIT 1", db=postgres_db)
    assert restored == "customer copies-marker-1"
    assert _dumps(backup_dir) == []  # each attempt's temp file was removed
    assert b2["location"].startswith(f"s3://{B2}/")


def test_an_encrypted_primary_without_an_identity_here_is_restored_from_a_plain_copy(
    cli, service_path, buckets, postgres, postgres_db, backup_dir, age_key
):
    """No identity here opens the primary (sealed for r2's recipient): a copy on the
    server's disk is not sealed, so the restore and the drill read it, not refuse."""
    _seed(postgres, postgres_db)
    _key_file, public = age_key
    cli("storage", "encrypt", "r2", "--recipient", public)
    cli("destination", "set", service_path, "external", "--provider", "r2", "--copy", "internal")
    backup_id = cli("backup", "create", service_path).stdout.strip()
    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)

    result = cli("backup", "restore", backup_id, "--yes", "--no-safety-backup")
    assert _restored_line(result) == (
        f"Restored backup {backup_id} into {service_path} (from the copy on the server's disk)"
    )
    restored = postgres.psql("SELECT customer FROM orders ORDER BY id LIMIT 1", db=postgres_db)
    assert restored == "customer copies-marker-1"
    assert "restores (" in cli("drill", "run", service_path, "--backup", backup_id).stdout

    # Once that copy's file is gone, the restore says of each place why it cannot be read.
    Path(cli.json("backup", "list", service_path)[0]["copies"][0]["location"]).unlink()
    failed = cli("backup", "restore", backup_id, "--yes", "--no-safety-backup", ok=False)
    [line] = [x for x in failed.output.splitlines() if x.startswith("Error:")]
    assert "the copy on the server's disk: Dump " in line and "is missing on the server" in line
    assert "; the primary in r2: This backup is encrypted for sha256:" in line
    assert line.endswith("restoring it needs an identity (private key)")


def test_a_restore_with_no_usable_place_names_each_one_and_why(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir
):
    _seed(postgres, postgres_db)
    cli("destination", "set", service_path, "internal", "--copy", "b2")
    backup_id = cli("backup", "create", service_path).stdout.strip()
    [row] = cli.json("backup", "list", service_path)
    Path(row["location"]).unlink()
    _remove_bucket(moto_s3, B2)

    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)
    failed = cli("backup", "restore", backup_id, "--yes", "--no-safety-backup", ok=False)
    [line] = [x for x in failed.stdout.splitlines() + failed.stderr.splitlines() if x.startswith("Error:")]
    assert line.startswith(
        f"Error: Restore of backup {backup_id} failed: No place holds a usable dump of backup {backup_id}: "
        "the primary on the server's disk: Dump "
    )
    assert "is missing on the server; the copy in b2: " in line
    assert postgres.psql("SELECT customer FROM orders ORDER BY id LIMIT 1", db=postgres_db) == "Mallory"
    assert _dumps(backup_dir) == []


# --- backup copy ID --to ----------------------------------------------------------------


def _one_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_backup_copy_repairs_a_degraded_backup_once_its_bucket_is_back(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir, age_key, tools
):
    _seed(postgres, postgres_db)
    key_file, public = age_key
    cli("storage", "encrypt", "r2", "--recipient", public)
    cli(
        "destination",
        "set",
        service_path,
        "internal",
        "--copy",
        "b2",
        "--copy",
        "r2",
        "--compression",
        "zstd",
    )
    _remove_bucket(moto_s3, R2)
    backup_id = cli("backup", "create", service_path).stdout.strip()
    [row] = cli.json("backup", "list", service_path)
    assert row["degraded"] is True and row["copies"][1]["status"] == "failed"

    moto_s3.make_bucket(R2, versioned=True)  # the bucket is back
    said = cli("backup", "copy", backup_id, "--to", "r2")
    [repaired] = cli.json("backup", "list", service_path)
    r2 = repaired["copies"][1]
    assert said.stdout.strip() == (
        f"Redid the copy of backup {backup_id} to r2: {r2['location']} (read from the primary on the server's disk)"
    )
    assert (repaired["degraded"], r2["destination"], r2["status"], r2["error"]) == (
        False,
        "r2",
        "succeeded",
        None,
    )
    assert "degraded" not in cli("backup", "list", service_path).stdout
    assert r2["location"].startswith(f"s3://{R2}/") and r2["location"].endswith(".dump.zst.age")
    sealed = _body(moto_s3, r2["location"])
    assert (r2["stored_size"], r2["sha256"]) == (len(sealed), hashlib.sha256(sealed).hexdigest())
    plain = _open(sealed, tools, key_file=key_file, zstd=True)
    assert hashlib.sha256(plain).hexdigest() == repaired["sha256"] and plain.startswith(b"PGDMP")
    [audited] = [e for e in cli.json("audit") if e["action"] == "backup.copy"]
    assert (audited["result"], audited["detail"]) == (
        "succeeded",
        "copied to r2, read from the primary on the server's disk",
    )


def test_backup_copy_adds_a_copy_on_the_servers_disk_that_a_restore_then_reads(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir
):
    _seed(postgres, postgres_db)
    cli("destination", "set", service_path, "external", "--provider", "b2")
    backup_id = cli("backup", "create", service_path).stdout.strip()
    assert cli.json("backup", "list", service_path)[0]["copies"] == []

    said = cli("backup", "copy", backup_id, "--to", "internal")
    [row] = cli.json("backup", "list", service_path)
    [internal] = row["copies"]
    assert said.stdout.strip() == (
        f"Copied backup {backup_id} to internal: {internal['location']} (read from the primary in b2)"
    )
    assert (internal["destination"], internal["status"]) == ("internal", "succeeded")
    on_disk = Path(internal["location"])
    assert _dumps(backup_dir) == [on_disk.name]  # no partial file left
    assert internal["sha256"] == hashlib.sha256(on_disk.read_bytes()).hexdigest()
    assert "b2+int" in cli("backup", "list", service_path).stdout
    again = cli("backup", "copy", backup_id, "--to", "internal", ok=False)
    assert _one_line(again) == f"Error: Backup {backup_id} already has a copy in internal"

    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)
    restored = cli("backup", "restore", backup_id, "--yes", "--no-safety-backup")
    assert _restored_line(restored) == (
        f"Restored backup {backup_id} into {service_path} (from the copy on the server's disk)"
    )
    assert postgres.psql("SELECT customer FROM orders ORDER BY id LIMIT 1", db=postgres_db) == (
        "customer copies-marker-1"
    )


def test_backup_copy_refuses_in_one_line_and_redoes_a_copy_that_is_gone(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir, age_key
):
    _seed(postgres, postgres_db)
    moto_s3.make_bucket("dflow-copies-unverified")
    cli.add_provider("s3", moto_s3, "dflow-copies-unverified")  # never verified
    cli("destination", "set", service_path, "internal", "--copy", "b2")
    backup_id = cli("backup", "create", service_path).stdout.strip()

    def refusal(*args: str) -> str:
        return _one_line(cli("backup", "copy", *args, ok=False))

    assert refusal(backup_id, "--to", "internal") == (
        f"Error: Backup {backup_id} is stored in internal already (its primary): a copy goes to another place"
    )
    assert refusal(backup_id, "--to", "b2") == f"Error: Backup {backup_id} already has a copy in b2"
    assert refusal(backup_id, "--to", "s3") == (
        "Error: Storage provider 's3' is not verified (Not verified yet); run `dflow-tui storage verify s3`"
    )
    assert refusal(backup_id, "--to", "nowhere") == (
        "Error: No storage provider named 'nowhere' (see `dflow-tui storage list`)"
    )

    # The copy in b2 is gone from its bucket: it is redone, not refused.
    [b2] = cli.json("backup", "list", service_path)[0]["copies"]
    bucket, key = b2["location"].removeprefix("s3://").split("/", 1)
    for version in moto_s3.versions_of(bucket, key):
        moto_s3.client().delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    said = cli("backup", "copy", backup_id, "--to", "b2")
    assert said.stdout.strip().startswith(f"Redid the copy of backup {backup_id} to b2: s3://{B2}/")
    assert hashlib.sha256(_body(moto_s3, b2["location"])).hexdigest() == b2["sha256"]

    # An encrypted backup that no identity here opens.
    _key_file, public = age_key
    cli("storage", "encrypt", "r2", "--recipient", public)
    cli("destination", "set", service_path, "external", "--provider", "r2")
    sealed_id = cli("backup", "create", service_path).stdout.strip()
    sealed = refusal(sealed_id, "--to", "internal")
    assert sealed.startswith(f"Error: Backup {sealed_id} is encrypted for ") and "--identity FILE" in sealed

    # A backup that failed.
    postgres.drop_database(postgres_db)
    cli("destination", "set", service_path, "internal")
    cli("backup", "create", service_path, ok=False)
    failed_id = str(cli.json("backup", "list", service_path)[0]["id"])
    postgres.create_database(postgres_db)
    assert refusal(failed_id, "--to", "b2") == (
        f"Error: Backup {failed_id} is failed: only a backup that succeeded is copied"
    )
    assert _dumps(backup_dir) == [Path(cli.json("backup", "list", service_path)[-1]["location"]).name]
    refused = [e for e in cli.json("audit") if e["action"] == "backup.copy" and e["result"] == "refused"]
    assert len(refused) == 6


# --- doctor -----------------------------------------------------------------------------


def test_doctor_names_each_copy_whose_dump_is_gone(
    cli, service_path, buckets, postgres, postgres_db, moto_s3, backup_dir
):
    _seed(postgres, postgres_db)
    cli("destination", "set", service_path, "internal", "--copy", "b2")
    first = cli("backup", "create", service_path).stdout.strip()
    cli("destination", "set", service_path, "external", "--provider", "r2", "--copy", "internal")
    second = cli("backup", "create", service_path).stdout.strip()
    assert [f for f in cli.json("doctor") if f["kind"] == "missing-dump"] == []

    rows = {str(r["id"]): r for r in cli.json("backup", "list", service_path)}
    [in_b2] = rows[first]["copies"]
    key = in_b2["location"].removeprefix(f"s3://{B2}/")
    for version in moto_s3.versions_of(B2, key):
        moto_s3.client().delete_object(Bucket=B2, Key=key, VersionId=version["VersionId"])
    [on_disk] = rows[second]["copies"]
    Path(on_disk["location"]).unlink()

    said = cli("doctor", ok=False)
    missing = sorted(line for line in said.stdout.splitlines() if line.startswith("missing-dump"))
    assert len(missing) == 2, said.output
    assert missing[0].endswith(f": the copy of backup {first} in b2 says success, but {key} is not there")
    assert missing[1].endswith(
        f": the copy of backup {second} on the server's disk says success, "
        f"but {Path(on_disk['location']).name} is not there"
    )
    assert f"backup {first} says" not in said.stdout and f"backup {second} says" not in said.stdout
