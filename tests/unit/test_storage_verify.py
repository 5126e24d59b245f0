"""verify() against moto's server over real HTTP, with IAM auth enforced."""

from __future__ import annotations

import pytest
from infra.moto_s3 import closed_port_url

from dflow_tui.storage import InvalidStorageConfig, StorageConfig, verify
from dflow_tui.storage.verify import PROBE_PREFIX

BUCKET = "dflow-verify"


def probe_leftovers(moto_s3, bucket: str = BUCKET) -> list[str]:
    page = moto_s3.client().list_object_versions(Bucket=bucket)
    return [
        e["Key"]
        for e in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if PROBE_PREFIX in e["Key"]
    ]


@pytest.mark.parametrize("versioned", [False, True])
async def test_verify_ok_and_leaves_no_probe(moto_s3, versioned):
    moto_s3.make_bucket(BUCKET, versioned=versioned)
    result = await verify(moto_s3.storage_config(BUCKET))
    assert result.ok, result.reason
    assert "PutObject, GetObject, ListBucket and DeleteObject" in result.reason
    assert f"s3://{BUCKET}/dflow/backups/" in result.reason
    assert probe_leftovers(moto_s3) == []  # no object, no version, no delete marker


async def test_verify_with_empty_prefix_probes_bucket_root(moto_s3):
    moto_s3.make_bucket(BUCKET)
    result = await verify(moto_s3.storage_config(BUCKET, prefix="/"))
    assert result.ok, result.reason
    assert probe_leftovers(moto_s3) == []


async def test_wrong_secret_is_rejected_by_the_server(moto_s3):
    moto_s3.make_bucket(BUCKET)
    wrong = "wrong-secret-" + "x" * 27
    result = await verify(moto_s3.storage_config(BUCKET, secret_access_key=wrong))
    assert not result.ok
    assert "SignatureDoesNotMatch" in result.reason
    assert "secret" in result.reason.lower()
    assert wrong not in result.reason


async def test_unknown_access_key(moto_s3):
    moto_s3.make_bucket(BUCKET)
    result = await verify(moto_s3.storage_config(BUCKET, access_key_id="AKIAUNKNOWNKEY000000"))
    assert not result.ok
    assert "InvalidAccessKeyId" in result.reason
    assert "access key ID" in result.reason


async def test_missing_bucket(moto_s3):
    result = await verify(moto_s3.storage_config("no-such-bucket"))
    assert not result.ok
    assert "NoSuchBucket" in result.reason
    assert "'no-such-bucket' does not exist" in result.reason


async def test_unreachable_endpoint():
    url = closed_port_url()
    config = StorageConfig(url, "us-east-1", BUCKET, access_key_id="AKIAX", secret_access_key="s3cr3t-value")
    result = await verify(config, max_attempts=1, connect_timeout=2)
    assert not result.ok
    assert result.reason.startswith(f"Cannot reach endpoint URL: {url}")
    assert "s3cr3t-value" not in result.reason


def _policy(*actions: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": [f"s3:{a}" for a in actions], "Resource": "*"}],
    }


@pytest.mark.parametrize(
    ("allowed", "denied_action", "permission"),
    [
        (("GetObject", "ListBucket", "DeleteObject"), "PutObject", "s3:PutObject"),
        (("PutObject", "ListBucket", "DeleteObject"), "GetObject", "s3:GetObject"),
        (("PutObject", "GetObject", "DeleteObject"), "ListObjectsV2", "s3:ListBucket"),
        (("PutObject", "GetObject", "ListBucket"), "DeleteObject", "s3:DeleteObject"),
    ],
)
async def test_denied_action_is_named(moto_s3, allowed, denied_action, permission):
    moto_s3.make_bucket(BUCKET)
    key_id, secret = moto_s3.create_user("limited", _policy(*allowed))
    result = await verify(moto_s3.storage_config(BUCKET, access_key_id=key_id, secret_access_key=secret))
    assert not result.ok
    assert result.reason.startswith(f"Access denied for {denied_action} on ")
    assert permission in result.reason
    assert secret not in result.reason
    if denied_action == "DeleteObject":
        assert "could not be removed" in result.reason
    else:
        assert probe_leftovers(moto_s3) == []


async def test_versioned_bucket_without_version_delete_right(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    key_id, secret = moto_s3.create_user(
        "no-versions", _policy("PutObject", "GetObject", "ListBucket", "DeleteObject")
    )
    result = await verify(moto_s3.storage_config(BUCKET, access_key_id=key_id, secret_access_key=secret))
    assert not result.ok
    assert "versioned" in result.reason
    assert "ListObjectVersions" in result.reason or "DeleteObjectVersion" in result.reason


def test_config_rejects_a_bad_endpoint_and_hides_the_secret():
    with pytest.raises(InvalidStorageConfig, match="Invalid endpoint URL"):
        StorageConfig("s3.example.com", "", "bucket", access_key_id="A", secret_access_key="S")
    config = StorageConfig("https://s3.example.com", "", "bucket", "/a/b/", "AKIA1", "very-secret-key")
    assert "very-secret-key" not in repr(config) and "very-secret-key" not in str(config)
    assert config.prefix == "a/b"
    assert config.region == "us-east-1"
    assert config.key_for("x.dump") == "a/b/x.dump"
