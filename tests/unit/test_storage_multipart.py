"""upload_stream(): streamed multipart upload against moto's server over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading

import pytest

from dflow_tui.core.errors import DflowError, RemoteError
from dflow_tui.storage import (
    S3Client,
    UploadAborted,
    UploadNotAborted,
    abort_uploads_of,
    head,
    upload_stream,
)
from dflow_tui.storage.multipart import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    MiB,
    TiB,
    capacity,
    part_size_for,
    plan_part_size,
)

BUCKET = "dflow-upload"
KEY = "dflow/backups/db-2026-01-02-03-04-05-678.dump"
PART = 5 * MiB  # S3's (and moto's) minimum for every part but the last
CHUNK = 256 * 1024


class Source:
    """A dump read in chunks, with hooks to fail or block after some bytes."""

    def __init__(self, size: int, *, after: int | None = None, action=None):
        self.data = os.urandom(size)
        self.offset = 0
        self.after = after
        self.action = action
        self.fired = False

    async def read_chunk(self) -> bytes:
        if self.after is not None and self.offset >= self.after and not self.fired:
            self.fired = True
            await self.action()
        chunk = self.data[self.offset : self.offset + CHUNK]
        self.offset += len(chunk)
        return chunk

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def part_sizes(client: S3Client) -> list[int]:
    """Record the body size of every UploadPart the client sends."""
    sizes: list[int] = []

    def record(params, **_):
        sizes.append(len(params["Body"]))

    client.raw.meta.events.register("provide-client-params.s3.UploadPart", record)
    return sizes


def assert_nothing_left(moto_s3, key: str = KEY) -> None:
    assert moto_s3.versions_of(BUCKET, key) == []
    assert moto_s3.multipart_uploads(BUCKET) == []


@pytest.mark.parametrize("expected", [None, 30 * MiB + 12345])
async def test_multipart_upload_of_30_mib(moto_s3, expected):
    moto_s3.make_bucket(BUCKET, versioned=True)
    source = Source(30 * MiB + 12345)
    progress: list[tuple[int, int | None]] = []
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        sizes = part_sizes(client)
        result = await upload_stream(
            client,
            BUCKET,
            KEY,
            source.read_chunk,
            expected,
            lambda done, total: progress.append((done, total)),
            min_part_size=PART,
        )
        info = await head(client, BUCKET, KEY)

    assert result.size == len(source.data)
    assert result.sha256 == source.sha256
    assert result.part_count == 7
    assert sizes == [PART] * 6 + [12345]  # one part buffer at a time, all but the last full
    assert result.version_id and result.version_id == info.version_id
    assert info.size == len(source.data)
    body = moto_s3.client().get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == source.sha256
    assert [done for done, _ in progress] == [PART * n for n in range(1, 7)] + [len(source.data)]
    assert {total for _, total in progress} == {expected}
    assert moto_s3.multipart_uploads(BUCKET) == []


async def test_small_dump_is_one_put_object(moto_s3):
    moto_s3.make_bucket(BUCKET)
    source = Source(3 * MiB)
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        sizes = part_sizes(client)
        result = await upload_stream(client, BUCKET, KEY, source.read_chunk, None, None, min_part_size=PART)
        info = await head(client, BUCKET, KEY)
    assert (result.size, result.sha256, result.part_count) == (len(source.data), source.sha256, 0)
    assert sizes == []
    assert result.version_id is None  # unversioned bucket
    assert info.size == len(source.data)


async def test_dump_of_exactly_two_parts(moto_s3):
    moto_s3.make_bucket(BUCKET)
    source = Source(2 * PART)
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        sizes = part_sizes(client)
        result = await upload_stream(client, BUCKET, KEY, source.read_chunk, None, None, min_part_size=PART)
    assert sizes == [PART, PART]
    assert (result.size, result.sha256, result.part_count) == (2 * PART, source.sha256, 2)


async def test_read_failure_after_two_parts_aborts(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)

    async def boom():
        assert len(moto_s3.multipart_uploads(BUCKET)) == 1  # the upload did exist
        raise OSError("ssh channel closed")

    source = Source(30 * MiB, after=2 * PART, action=boom)
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        with pytest.raises(UploadAborted) as raised:
            await upload_stream(client, BUCKET, KEY, source.read_chunk, None, None, min_part_size=PART)
    message = str(raised.value)
    assert "Reading the dump failed" in message and "ssh channel closed" in message
    assert "aborted" in message
    assert isinstance(raised.value, DflowError)
    assert_nothing_left(moto_s3)


async def test_read_dflow_error_goes_up_unchanged_after_abort(moto_s3):
    moto_s3.make_bucket(BUCKET)

    async def export_failed():
        raise RemoteError("dokku postgres:export db failed: exit status 1")

    source = Source(30 * MiB, after=2 * PART, action=export_failed)
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        with pytest.raises(RemoteError, match="export db failed"):
            await upload_stream(client, BUCKET, KEY, source.read_chunk, None, None, min_part_size=PART)
    assert_nothing_left(moto_s3)


async def test_cancellation_aborts(moto_s3):
    moto_s3.make_bucket(BUCKET)
    reached = asyncio.Event()

    async def hang():
        reached.set()
        await asyncio.sleep(3600)

    source = Source(30 * MiB, after=2 * PART, action=hang)
    async with S3Client(moto_s3.storage_config(BUCKET)) as client:
        task = asyncio.create_task(
            upload_stream(client, BUCKET, KEY, source.read_chunk, None, None, min_part_size=PART)
        )
        await asyncio.wait_for(reached.wait(), 30)
        assert len(moto_s3.multipart_uploads(BUCKET)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert_nothing_left(moto_s3)


async def test_server_gone_mid_upload_then_back_during_abort(moto_s3):
    """The endpoint dies after two parts: UploadPart fails, the abort is retried
    until the endpoint answers again, and nothing is left."""
    moto_s3.make_bucket(BUCKET, versioned=True)

    async def kill():
        await asyncio.to_thread(moto_s3.kill)

    source = Source(30 * MiB, after=2 * PART, action=kill)
    async with S3Client(moto_s3.storage_config(BUCKET), max_attempts=2, connect_timeout=2) as client:
        aborts: list[int] = []

        def on_abort(**_):
            aborts.append(1)
            if len(aborts) == 2:  # the first abort call found the server down: back for the next
                moto_s3.start()  # (not on a timer: under load a timer can beat the first call)

        client.raw.meta.events.register("before-call.s3.AbortMultipartUpload", on_abort)
        with pytest.raises(UploadAborted) as raised:
            await upload_stream(
                client, BUCKET, KEY, source.read_chunk, None, None, min_part_size=PART, abort_timeout=30
            )
    assert len(aborts) >= 2  # the first abort call failed and upload_stream called again
    assert "UploadPart" in str(raised.value) or "endpoint" in str(raised.value)
    assert "aborted" in str(raised.value)
    assert_nothing_left(moto_s3)


async def test_server_gone_for_good_names_the_orphan_and_cleanup_removes_it(moto_s3):
    moto_s3.make_bucket(BUCKET)

    async def kill():
        await asyncio.to_thread(moto_s3.kill)

    source = Source(30 * MiB, after=2 * PART, action=kill)
    config = moto_s3.storage_config(BUCKET)
    async with S3Client(config, max_attempts=2, connect_timeout=2) as client:
        with pytest.raises(UploadNotAborted) as raised:
            await upload_stream(
                client, BUCKET, KEY, source.read_chunk, None, None, min_part_size=PART, abort_timeout=1
            )
    error = raised.value
    assert error.upload_id and error.upload_id in str(error)
    assert config.secret_access_key not in str(error)
    assert "Cannot reach endpoint URL" in str(error)

    moto_s3.start()
    assert [u["UploadId"] for u in moto_s3.multipart_uploads(BUCKET)] == [error.upload_id]
    async with S3Client(config) as client:
        assert await abort_uploads_of(client, BUCKET, "other/prefix/" + KEY.rsplit("/", 1)[1]) == 0
        assert await abort_uploads_of(client, BUCKET, KEY[:-5]) == 0  # a prefix of the key is not the key
        assert await abort_uploads_of(client, BUCKET, KEY) == 1
    assert_nothing_left(moto_s3)


async def test_transient_outage_during_a_part_is_retried(moto_s3):
    """A short outage mid-upload is absorbed by the per-request retries."""
    moto_s3.make_bucket(BUCKET)

    async def blip():
        await asyncio.to_thread(moto_s3.kill)
        threading.Timer(0.3, moto_s3.start).start()

    source = Source(20 * MiB + 5, after=2 * PART, action=blip)
    async with S3Client(moto_s3.storage_config(BUCKET), max_attempts=8) as client:
        attempts: list[int] = []
        client.raw.meta.events.register("before-send.s3.UploadPart", lambda **_: attempts.append(1))
        result = await upload_stream(client, BUCKET, KEY, source.read_chunk, None, None, min_part_size=PART)
        info = await head(client, BUCKET, KEY)
    assert (result.size, result.sha256, result.part_count) == (len(source.data), source.sha256, 5)
    assert len(attempts) > 5  # at least one UploadPart attempt failed and was retried
    assert info.size == len(source.data)
    assert moto_s3.multipart_uploads(BUCKET) == []


async def test_s3_error_on_create_is_a_clear_storage_error(moto_s3):
    source = Source(12 * MiB)
    async with S3Client(moto_s3.storage_config("missing-bucket")) as client:
        with pytest.raises(DflowError, match="NoSuchBucket"):
            await upload_stream(
                client, "missing-bucket", KEY, source.read_chunk, None, None, min_part_size=PART
            )


async def test_part_size_below_s3_minimum_is_refused():
    with pytest.raises(ValueError, match="at least"):
        await upload_stream(None, BUCKET, KEY, None, None, None, min_part_size=MiB)  # type: ignore[arg-type]


async def test_expected_size_over_s3_maximum_is_refused():
    with pytest.raises(DflowError, match="5 TiB"):
        await upload_stream(None, BUCKET, KEY, None, MAX_OBJECT_SIZE + 1, None)  # type: ignore[arg-type]


def test_part_size_plan():
    assert plan_part_size(None) == MIN_PART_SIZE == 8 * MiB
    assert plan_part_size(1) == 8 * MiB
    assert plan_part_size(50 * 1024 * MiB) == 8 * MiB  # 50 GiB: 8 MiB parts suffice
    assert plan_part_size(100 * 1024 * MiB) == 11 * MiB  # 10.24 MiB, rounded up to a MiB
    for expected in (10**9, 10**11, 10**12, 5 * 10**12, MAX_OBJECT_SIZE):
        first = plan_part_size(expected)
        assert first * MAX_PARTS >= expected  # 10,000 parts cover the dump without growing
        assert first <= MAX_PART_SIZE
    # unknown size: growth from 8 MiB covers more than the 5 TiB S3 limit
    assert capacity(MIN_PART_SIZE) >= 5 * TiB
    assert part_size_for(1, 8 * MiB) == part_size_for(1000, 8 * MiB) == 8 * MiB
    assert part_size_for(1001, 8 * MiB) == 16 * MiB
    assert part_size_for(10_000, 8 * MiB) == 4096 * MiB
    assert part_size_for(10_000, 1024 * MiB) == MAX_PART_SIZE
