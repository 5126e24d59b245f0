"""head, download_stream and delete_all_versions against moto's server over real HTTP."""

from __future__ import annotations

import hashlib
import os

import pytest

from dflow_tui.storage import (
    S3Client,
    StorageError,
    delete_all_versions,
    download_stream,
    head,
)

BUCKET = "dflow-objects"
KEY = "dflow/backups/a.dump"
NEIGHBOURS = ("dflow/backups/a.dump.bak", "dflow/backups/a.dum", "dflow/backups/a.dump/inner")


async def test_delete_all_versions_on_a_versioned_bucket(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    s3 = moto_s3.client()
    for n in range(3):
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=f"v{n}".encode())
    s3.delete_object(Bucket=BUCKET, Key=KEY)  # a delete marker on top
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"v3")
    s3.delete_object(Bucket=BUCKET, Key=KEY)  # and another
    for neighbour in NEIGHBOURS:
        s3.put_object(Bucket=BUCKET, Key=neighbour, Body=b"1")
        s3.put_object(Bucket=BUCKET, Key=neighbour, Body=b"2")
    before = moto_s3.versions_of(BUCKET, KEY)
    assert sum("IsLatest" in v and "Size" not in v for v in before) == 2  # two delete markers

    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        assert await delete_all_versions(client, BUCKET, KEY) == 6
        assert await delete_all_versions(client, BUCKET, KEY) == 0  # idempotent

    assert moto_s3.versions_of(BUCKET, KEY) == []
    for neighbour in NEIGHBOURS:
        assert len(moto_s3.versions_of(BUCKET, neighbour)) == 2, neighbour


async def test_delete_all_versions_on_an_unversioned_bucket(moto_s3):
    moto_s3.make_bucket(BUCKET)
    s3 = moto_s3.client()
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"x")
    s3.put_object(Bucket=BUCKET, Key=NEIGHBOURS[0], Body=b"y")
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        assert await delete_all_versions(client, BUCKET, KEY) == 1
        assert await head(client, BUCKET, KEY) is None
        assert (await head(client, BUCKET, NEIGHBOURS[0])).size == 1
        assert await delete_all_versions(client, BUCKET, "dflow/backups/never-there.dump") == 0


async def test_delete_all_versions_denied_is_a_clear_error(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    moto_s3.client().put_object(Bucket=BUCKET, Key=KEY, Body=b"x")
    key_id, secret = moto_s3.create_user(
        "reader",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}],
        },
    )
    config = moto_s3.storage_config(BUCKET, access_key_id=key_id, secret_access_key=secret)
    async with S3Client(config) as client:
        with pytest.raises(
            StorageError, match=r"Access denied for ListObjectVersions .*s3:ListBucketVersions"
        ):
            await delete_all_versions(client, BUCKET, KEY)
    assert len(moto_s3.versions_of(BUCKET, KEY)) == 1


async def test_head(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    version = moto_s3.client().put_object(Bucket=BUCKET, Key=KEY, Body=b"12345")["VersionId"]
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        info = await head(client, BUCKET, KEY)
        assert (info.key, info.size, info.version_id) == (KEY, 5, version)
        assert info.etag and info.last_modified is not None
        assert await head(client, BUCKET, "dflow/backups/missing.dump") is None


async def test_download_stream_is_chunked_and_complete(moto_s3):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(3 * 1024 * 1024 + 17)
    moto_s3.client().put_object(Bucket=BUCKET, Key=KEY, Body=data)
    chunk_size = 256 * 1024
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        stream = await download_stream(client, BUCKET, KEY, chunk_size=chunk_size)
        assert stream.size == len(data)
        digest = hashlib.sha256()
        largest = 0
        async with stream:
            async for chunk in stream:
                largest = max(largest, len(chunk))
                digest.update(chunk)
        assert largest <= chunk_size
        assert stream.bytes_read == len(data)
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()

        # stopping early releases the connection; the client still works
        stream = await download_stream(client, BUCKET, KEY, chunk_size=chunk_size)
        async with stream:
            async for _chunk in stream:
                break
        assert (await head(client, BUCKET, KEY)).size == len(data)


async def test_download_of_a_missing_object(moto_s3):
    moto_s3.make_bucket(BUCKET)
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        with pytest.raises(StorageError, match="does not exist"):
            await download_stream(client, BUCKET, "dflow/backups/missing.dump")


async def test_client_outside_async_with_is_an_error(moto_s3):
    client = S3Client(moto_s3.storage_config(BUCKET))
    with pytest.raises(StorageError, match="not open"):
        client.raw  # noqa: B018
