"""External backups through real sshd + PostgreSQL into moto's S3 server over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import threading

import pytest

BUCKET = "dflow-backups-e2e"


@pytest.fixture
def provider(cli, moto_s3, memory_keyring) -> str:
    moto_s3.make_bucket(BUCKET, versioned=True)
    cli.add_provider("b2", moto_s3, BUCKET)
    cli("storage", "verify", "b2")
    return "b2"


@pytest.fixture
def external_service(cli, service_path, provider) -> str:
    cli("destination", "set", service_path, "external", "--provider", provider)
    return service_path


def _object(moto_s3, key):
    s3 = moto_s3.client()
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return s3.head_object(Bucket=BUCKET, Key=key), body


def test_external_backup_restore_delete(cli, external_service, postgres, postgres_db, moto_s3, backup_dir):
    postgres.psql("CREATE TABLE orders (id int primary key, customer text)", db=postgres_db)
    postgres.psql("INSERT INTO orders VALUES (1, 'Ada'), (2, 'Grace')", db=postgres_db)

    backup_id = int(cli("backup", "create", external_service).stdout)

    [row] = cli.json("backup", "list", external_service)
    assert row["type"] == "external" and row["status"] == "succeeded"
    key = row["location"].removeprefix(f"s3://{BUCKET}/")
    # One service's keys: its project and environment are part of them.
    assert re.fullmatch(
        rf"dflow/backups/shop/production/{postgres_db}-\d{{4}}(-\d\d){{5}}-\d{{3}}\.dump", key
    )
    head, body = _object(moto_s3, key)
    assert head["ContentLength"] == row["size_bytes"] == len(body) > 0
    assert hashlib.sha256(body).hexdigest() == row["sha256"]
    assert not backup_dir.exists() or list(backup_dir.iterdir()) == []  # no temp file on the server

    postgres.psql("UPDATE orders SET customer = 'Mallory'", db=postgres_db)
    cli("backup", "restore", str(backup_id), "--yes", "--no-safety-backup")
    assert postgres.psql("SELECT customer FROM orders ORDER BY id", db=postgres_db) == "Ada\nGrace"
    assert list(backup_dir.iterdir()) == []  # the restore's temp file is gone

    cli("backup", "delete", str(backup_id), "--yes")
    assert moto_s3.versions_of(BUCKET, key) == []
    assert cli.json("backup", "list", external_service) == []


def test_delete_removes_every_version_and_delete_marker(
    cli, external_service, postgres, postgres_db, moto_s3
):
    postgres.psql("CREATE TABLE t (v int)", db=postgres_db)
    backup_id = int(cli("backup", "create", external_service).stdout)
    key = cli.json("backup", "list", external_service)[0]["location"].removeprefix(f"s3://{BUCKET}/")
    s3 = moto_s3.client()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"second version")
    s3.delete_object(Bucket=BUCKET, Key=key)  # a delete marker
    s3.put_object(Bucket=BUCKET, Key=key + ".keep", Body=b"a neighbour")
    assert len(moto_s3.versions_of(BUCKET, key)) == 3

    cli("backup", "delete", str(backup_id), "--yes")

    assert moto_s3.versions_of(BUCKET, key) == []
    assert len(moto_s3.versions_of(BUCKET, key + ".keep")) == 1


def test_existing_rows_keep_their_type_when_the_destination_changes(
    cli, external_service, postgres, postgres_db, backup_dir
):
    postgres.psql("CREATE TABLE t (v int)", db=postgres_db)
    cli("backup", "create", external_service)
    cli("destination", "set", external_service, "internal")
    cli("backup", "create", external_service)

    types = [b["type"] for b in cli.json("backup", "list", external_service)]
    assert sorted(types) == ["external", "internal"]
    assert len(list(backup_dir.glob("*.dump"))) == 1


def test_an_altered_object_is_refused_before_import(
    cli, service_path, moto_s3, memory_keyring, postgres, postgres_db
):
    moto_s3.make_bucket("plain-bucket")  # unversioned: an overwrite replaces the object
    cli.add_provider("plain", moto_s3, "plain-bucket")
    cli("storage", "verify", "plain")
    cli("destination", "set", service_path, "external", "--provider", "plain")
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)", db=postgres_db)
    backup_id = int(cli("backup", "create", service_path).stdout)
    key = cli.json("backup", "list", service_path)[0]["location"].removeprefix("s3://plain-bucket/")
    s3 = moto_s3.client()
    original = s3.get_object(Bucket="plain-bucket", Key=key)["Body"].read()
    s3.put_object(Bucket="plain-bucket", Key=key, Body=original[:-10] + b"0123456789")
    postgres.psql("UPDATE t SET v = 2", db=postgres_db)

    result = cli("backup", "restore", str(backup_id), "--yes", "--no-safety-backup", ok=False)

    assert "the object is damaged or is not the one recorded" in result.stderr
    assert postgres.psql("SELECT v FROM t", db=postgres_db) == "2"  # nothing imported


def test_unverified_provider_cannot_be_chosen(cli, service_path, moto_s3, memory_keyring):
    moto_s3.make_bucket(BUCKET)
    cli.add_provider("wrong", moto_s3, BUCKET, secret="not-the-secret")

    failed = cli("storage", "verify", "wrong", ok=False)
    refused = cli("destination", "set", service_path, "external", "--provider", "wrong", ok=False)

    assert "unverified" in failed.stderr
    assert "not verified" in refused.stderr
    [service] = cli.json("service", "list")
    assert service["destination"] == "internal"


@pytest.mark.parametrize("case", ["wrong secret", "missing bucket", "unreachable endpoint"])
def test_verification_failures_say_why(cli, moto_s3, memory_keyring, case):
    from infra.moto_s3 import closed_port_url

    moto_s3.make_bucket(BUCKET)
    endpoint, bucket, secret = moto_s3.endpoint_url, BUCKET, moto_s3.secret_access_key
    if case == "wrong secret":
        secret = "x" * 40
    elif case == "missing bucket":
        bucket = "no-such-bucket-here"
    else:
        endpoint = closed_port_url()
    cli.add_provider("p", moto_s3, bucket, secret=secret, endpoint=endpoint)

    result = cli("storage", "verify", "p", ok=False)

    [provider] = cli.json("storage", "list")
    assert provider["status"] == "unverified"
    reason = provider["status_reason"].lower()
    expected = {
        "wrong secret": "secret",
        "missing bucket": "does not exist",
        "unreachable endpoint": "cannot reach",
    }[case]
    assert expected in reason, reason
    assert provider["status_reason"] in result.stderr


def test_the_secret_is_in_no_table_log_or_output(
    cli, external_service, postgres, postgres_db, moto_s3, state_db, caplog, tmp_path
):
    caplog.set_level("DEBUG")
    postgres.psql("CREATE TABLE t (v int)", db=postgres_db)
    outputs = []
    backup_id = cli("backup", "create", external_service)
    outputs.append(backup_id)
    outputs.append(cli("backup", "restore", backup_id.stdout.strip(), "--yes"))
    outputs.append(cli("storage", "list"))
    outputs.append(cli("storage", "list", "--json"))
    outputs.append(cli("storage", "verify", "b2"))
    outputs.append(cli("backup", "list", "--json"))

    secret = moto_s3.secret_access_key.encode()
    state_dir = tmp_path / "state"
    for path in state_dir.iterdir():  # the database and its WAL
        assert secret not in path.read_bytes(), path
    for result in outputs:
        assert secret not in result.stdout_bytes and secret not in result.stderr_bytes
    assert moto_s3.secret_access_key not in caplog.text


# --- failures mid-stream (service layer, to act while the upload runs) ----------------


def _big_database(postgres, db: str, megabytes: int = 28) -> None:
    postgres.psql("CREATE EXTENSION IF NOT EXISTS pgcrypto", db=db)
    postgres.psql(
        f"CREATE TABLE blob AS SELECT gen_random_bytes(1024) AS b FROM generate_series(1, {megabytes * 1024})",
        db=db,
    )


async def _backup_with_interference(cli, path: str, interfere, s3_max_attempts: int = 6) -> object:
    app = await cli.open_app(s3_max_attempts=s3_max_attempts)
    fired = False

    def on_progress(progress):
        nonlocal fired
        if not fired and progress.done_bytes:
            fired = True
            interfere()

    try:
        return await app.backups.create(path, on_progress=on_progress)
    finally:
        await app.close()


def test_large_dump_uploads_as_multipart(cli, external_service, postgres, postgres_db, moto_s3):
    _big_database(postgres, postgres_db)

    cli("backup", "create", external_service)

    [row] = cli.json("backup", "list", external_service)
    key = row["location"].removeprefix(f"s3://{BUCKET}/")
    head = moto_s3.client().head_object(Bucket=BUCKET, Key=key)
    parts = int(head["ETag"].strip('"').rsplit("-", 1)[1])  # a multipart ETag ends in -<parts>
    assert parts >= 3
    assert row["size_bytes"] > 24 * 1024 * 1024


def test_export_killed_mid_stream_leaves_no_object_and_no_upload(
    cli, external_service, postgres, postgres_db, moto_s3
):
    _big_database(postgres, postgres_db, megabytes=40)

    def kill_pg_dump():
        subprocess.run(["pkill", "-KILL", "-f", f"pg_dump.*{postgres_db}"], check=False)

    view = asyncio.run(_backup_with_interference(cli, external_service, kill_pg_dump))

    assert view.status == "failed"
    assert "Export of postgres service" in view.error
    assert moto_s3.client().list_object_versions(Bucket=BUCKET).get("Versions", []) == []
    assert moto_s3.multipart_uploads(BUCKET) == []


def test_a_brief_endpoint_outage_is_retried(cli, external_service, postgres, postgres_db, moto_s3):
    _big_database(postgres, postgres_db, megabytes=40)

    def stop_then_restart_endpoint():
        moto_s3.kill()
        threading.Timer(2.0, moto_s3.start).start()

    view = asyncio.run(_backup_with_interference(cli, external_service, stop_then_restart_endpoint))

    assert view.status == "succeeded", view.error
    assert moto_s3.multipart_uploads(BUCKET) == []


def test_endpoint_stopped_mid_stream_leaves_no_object_and_no_upload(
    cli, external_service, postgres, postgres_db, moto_s3
):
    _big_database(postgres, postgres_db, megabytes=40)

    def stop_then_restart_endpoint():
        moto_s3.kill()
        threading.Timer(
            6.0, moto_s3.start
        ).start()  # back after the part gave up: the abort must still happen

    view = asyncio.run(
        _backup_with_interference(cli, external_service, stop_then_restart_endpoint, s3_max_attempts=2)
    )

    assert view.status == "failed"
    assert "aborted" in view.error.lower() or "reach" in view.error.lower(), view.error
    assert moto_s3.client().list_object_versions(Bucket=BUCKET).get("Versions", []) == []
    assert moto_s3.multipart_uploads(BUCKET) == []


def test_without_a_usable_keyring_nothing_is_saved_and_the_fix_is_explained(cli, moto_s3, monkeypatch):
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    keyring.set_keyring(fail.Keyring())
    try:
        result = cli.add_provider("p", moto_s3, BUCKET, secret="some-secret", ok=False)
    finally:
        keyring.set_keyring(previous)

    assert "keyring" in result.stderr.lower()
    assert "some-secret" not in result.output
    assert cli.json("storage", "list") == []


def _wrap_upload_part(monkeypatch, wrapper) -> None:
    """Every S3 client opened from now on sends its parts through `wrapper(original, **params)`."""
    from dflow_tui.storage import s3

    enter = s3.S3Client.__aenter__

    async def wrapped_enter(self):
        client = await enter(self)
        original = client.raw.upload_part

        async def upload_part(**params):
            return await wrapper(original, **params)

        client.raw.upload_part = upload_part
        return client

    monkeypatch.setattr(s3.S3Client, "__aenter__", wrapped_enter)


def test_one_part_rejected_with_others_in_flight_leaves_no_object_and_no_upload(
    cli, external_service, postgres, postgres_db, moto_s3, monkeypatch
):
    from botocore.exceptions import ClientError

    _big_database(postgres, postgres_db, megabytes=40)
    started: list[int] = []

    async def reject_the_third(original, **params):
        started.append(params["PartNumber"])
        if params["PartNumber"] == 3:
            for _ in range(100):  # rejected once the part after it is on its way too
                if 4 in started:
                    break
                await asyncio.sleep(0.05)
            raise ClientError({"Error": {"Code": "BadDigest", "Message": "injected"}}, "UploadPart")
        await asyncio.sleep(0.5)  # slow enough that the parts are in flight together
        return await original(**params)

    _wrap_upload_part(monkeypatch, reject_the_third)
    view = asyncio.run(_backup_with_interference(cli, external_service, lambda: None, s3_max_attempts=1))

    assert view.status == "failed" and "BadDigest" in view.error and "aborted" in view.error, view.error
    assert len(started) >= 4  # several parts were in flight together
    assert moto_s3.client().list_object_versions(Bucket=BUCKET).get("Versions", []) == []
    assert moto_s3.multipart_uploads(BUCKET) == []


def test_a_slow_bucket_holds_the_export_back(
    cli, external_service, postgres, postgres_db, moto_s3, monkeypatch
):
    """Backpressure: with parts of 5 MiB and a bucket taking two seconds per part, the
    export is read only as fast as parts leave: what was read and not yet stored stays
    within a few parts (four in flight, one being filled, the chunks in between), never
    the whole dump."""
    import functools

    from dflow_tui.jobs import backup_external
    from dflow_tui.storage.upload import upload_parts

    part = 5 * 2**20
    _big_database(postgres, postgres_db, megabytes=48)
    monkeypatch.setattr(backup_external, "upload_parts", functools.partial(upload_parts, min_part_size=part))
    read = stored = 0
    most_ahead = most_in_flight = in_flight = 0

    async def slow(original, **params):
        nonlocal in_flight, most_in_flight, stored, most_ahead
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        try:
            await asyncio.sleep(2.0)
            answer = await original(**params)
            stored += params["ContentLength"]
            return answer
        finally:
            in_flight -= 1

    _wrap_upload_part(monkeypatch, slow)

    def on_progress(progress):
        nonlocal read, most_ahead
        if progress.done_bytes is not None:
            read = max(read, progress.done_bytes)
            most_ahead = max(most_ahead, read - stored)

    async def backup():
        app = await cli.open_app()
        try:
            return await app.backups.create(external_service, on_progress=on_progress)
        finally:
            await app.close()

    view = asyncio.run(backup())

    assert view.status == "succeeded", view.error
    assert view.size_bytes > 40 * 2**20
    assert 2 <= most_in_flight <= 4  # parts overlap, never more than the provider's default of four
    assert most_ahead <= 6 * part + 4 * 2**20, f"read {most_ahead / 2**20:.1f} MiB ahead of the bucket"
