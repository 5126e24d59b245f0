"""download_parts(): K ranged GETs in flight, yielded in order, against moto's server over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os

import pytest
from infra.cutting_proxy import CuttingProxy

from dflow_tui.core.errors import DflowError
from dflow_tui.storage import S3Client, StorageError
from dflow_tui.storage.download import download_parts
from dflow_tui.storage.multipart import MiB

BUCKET = "dflow-parallel-download"
KEY = "dflow/backups/db-2026-01-02-03-04-05-678.dump"


def put(moto_s3, data: bytes, key: str = KEY) -> str | None:
    return moto_s3.client().put_object(Bucket=BUCKET, Key=key, Body=data).get("VersionId")


def open_client(moto_s3, parallel: int = 4, **options) -> S3Client:
    return S3Client(moto_s3.storage_config(BUCKET), max_pool_connections=max(10, parallel), **options)


class SlowRanges:
    """Wraps client.raw.get_object: records the ranges asked, optionally delays some."""

    def __init__(self, client: S3Client, delay=lambda first: 0.0):
        self.original = client.raw.get_object
        self.delay = delay
        self.ranges: list[tuple[int, int]] = []
        self.answered: list[int] = []  # first byte of each range, in the order the answers came
        self.params: list[dict] = []
        client.raw.get_object = self

    async def __call__(self, **params):
        first, last = (int(n) for n in params["Range"].removeprefix("bytes=").split("-"))
        self.ranges.append((first, last))
        self.params.append(params)
        await asyncio.sleep(self.delay(first))
        response = await self.original(**params)
        self.answered.append(first)
        return response


def other_tasks() -> set[asyncio.Task]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task() and not task.done()}


# ----------------------------------------------------------------- round trips


@pytest.mark.parametrize("parallel", [1, 4, 16])
@pytest.mark.parametrize(
    ("size", "part_size"),
    [(0, MiB), (10, MiB), (3 * MiB, MiB), (3 * MiB + 12345, 1_000_003)],
    ids=["empty", "under-one-part", "exactly-3-parts", "parts-not-dividing-the-object"],
)
async def test_round_trip(moto_s3, size, part_size, parallel):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(size)
    put(moto_s3, data)
    async with open_client(moto_s3, parallel) as client:
        slow = SlowRanges(client)
        download = await download_parts(client, BUCKET, KEY, parallel=parallel, part_size=part_size)
        async with download:
            chunks = [chunk async for chunk in download]
    assert download.size == size
    assert b"".join(chunks) == data
    assert download.bytes_read == size
    assert download.sha256 == hashlib.sha256(data).hexdigest()
    starts = list(range(0, size, part_size))
    assert slow.ranges == [(start, min(start + part_size, size) - 1) for start in starts]
    assert all(params["IfMatch"] == download.etag for params in slow.params)  # pinned to one object


async def test_ranges_answered_out_of_order_are_yielded_in_order(moto_s3):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(6 * MiB + 1)
    put(moto_s3, data)
    async with open_client(moto_s3) as client:
        slow = SlowRanges(client, delay=lambda first: 0.5 if first == 0 else 0.0)
        download = await download_parts(client, BUCKET, KEY, parallel=4, part_size=MiB)
        async with download:
            received = b"".join([chunk async for chunk in download])
    assert slow.answered[0] != 0  # the first range really came back after others
    assert received == data


async def test_at_most_k_ranges_ahead_of_a_slow_consumer(moto_s3):
    moto_s3.make_bucket(BUCKET)
    part_size = 256 * 1024
    data = os.urandom(20 * part_size + 99)
    put(moto_s3, data)
    ahead: list[int] = []
    async with open_client(moto_s3) as client:
        slow = SlowRanges(client)
        download = await download_parts(client, BUCKET, KEY, parallel=3, part_size=part_size)
        async with download:
            async for _ in download:
                part_being_read = (download.bytes_read - 1) // part_size
                ahead.append(len(slow.ranges) - part_being_read)  # ranges started from this one on
                await asyncio.sleep(0.01)
    assert max(ahead) == 3  # K ranges in flight, the one being read included, never more


async def test_a_given_version_is_read(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    old = os.urandom(3 * MiB)
    old_version = put(moto_s3, old)
    put(moto_s3, os.urandom(3 * MiB))
    async with open_client(moto_s3) as client:
        download = await download_parts(client, BUCKET, KEY, version_id=old_version, part_size=MiB)
        async with download:
            assert b"".join([chunk async for chunk in download]) == old
    assert download.version_id == old_version


async def test_expected_sha256_checked_after_the_last_byte(moto_s3):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(2 * MiB)
    put(moto_s3, data)
    received = 0
    async with open_client(moto_s3) as client:
        download = await download_parts(client, BUCKET, KEY, part_size=MiB, expected_sha256="0" * 64)
        with pytest.raises(StorageError, match="not the expected 0000") as raised:
            async with download:
                async for chunk in download:
                    received += len(chunk)
    assert received == len(data)  # everything came, and then the iteration failed
    assert hashlib.sha256(data).hexdigest() in str(raised.value)


# ----------------------------------------------------------- stops and failures


async def test_stopping_early_cancels_the_gets_and_frees_the_connections(moto_s3):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(8 * MiB)
    put(moto_s3, data)
    # A pool of exactly K: a connection left behind by an early stop would starve the next download.
    async with S3Client(moto_s3.storage_config(BUCKET), max_pool_connections=2) as client:
        for stop in ("break", "raise"):
            download = await download_parts(client, BUCKET, KEY, parallel=2, part_size=MiB)
            with pytest.raises(KeyError) if stop == "raise" else contextlib.nullcontext():
                async with download:
                    async for _ in download:
                        if stop == "break":
                            break
                        raise KeyError("the consumer failed")
            assert other_tasks() == set()  # no GET left running
        download = await download_parts(client, BUCKET, KEY, parallel=2, part_size=MiB)
        async with download:
            received = await asyncio.wait_for(_join(download), 30)
    assert received == data


async def test_object_overwritten_mid_download_is_refused(moto_s3):
    """Unversioned bucket: If-Match on the ETag catches the overwrite."""
    moto_s3.make_bucket(BUCKET)
    put(moto_s3, os.urandom(8 * MiB))
    async with open_client(moto_s3) as client:
        download = await download_parts(client, BUCKET, KEY, parallel=2, part_size=MiB)
        with pytest.raises(StorageError) as raised:
            async with download:
                async for _ in download:
                    if download.bytes_read == MiB:  # the first range is through, the third not asked yet
                        await asyncio.to_thread(put, moto_s3, os.urandom(8 * MiB))
        assert other_tasks() == set()
    assert str(raised.value) == (
        f"s3://{BUCKET}/{KEY} changed during the download (it is no longer the version with ETag "
        f"{download.etag}); refusing to mix two objects"
    )
    assert isinstance(raised.value, DflowError)


async def test_versioned_object_overwritten_mid_download_still_reads_the_pinned_version(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    data = os.urandom(8 * MiB)
    put(moto_s3, data)
    async with open_client(moto_s3) as client:
        slow = SlowRanges(client)
        download = await download_parts(client, BUCKET, KEY, parallel=2, part_size=MiB)
        received = bytearray()
        async with download:
            async for chunk in download:
                received += chunk
                if download.bytes_read == MiB:
                    await asyncio.to_thread(put, moto_s3, os.urandom(8 * MiB))
    assert received == data
    assert download.version_id and {params["VersionId"] for params in slow.params} == {download.version_id}


async def test_pinned_version_deleted_mid_download_is_refused(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    version = put(moto_s3, os.urandom(8 * MiB))
    async with open_client(moto_s3) as client:
        slow = SlowRanges(client)
        download = await download_parts(client, BUCKET, KEY, parallel=2, part_size=MiB)
        with pytest.raises(StorageError, match="was deleted during the download"):
            async with download:
                async for _ in download:
                    if download.bytes_read == MiB:
                        await asyncio.to_thread(
                            moto_s3.client().delete_object, Bucket=BUCKET, Key=KEY, VersionId=version
                        )
    assert {params["VersionId"] for params in slow.params} == {version}


async def test_missing_object_is_a_clear_error(moto_s3):
    moto_s3.make_bucket(BUCKET)
    async with open_client(moto_s3) as client:
        with pytest.raises(StorageError, match=r"^HeadObject on s3://.* failed: the object does not exist$"):
            await download_parts(client, BUCKET, KEY)


async def test_short_read_is_refused(moto_s3):
    moto_s3.make_bucket(BUCKET)
    put(moto_s3, os.urandom(4 * MiB))

    class CutBody:
        """The real body, ending 1000 bytes early (a proxy that drops the connection)."""

        def __init__(self, body, length):
            self.body, self.left = body, length - 1000

        async def read(self, size):
            chunk = await self.body.read(min(size, self.left)) if self.left > 0 else b""
            self.left -= len(chunk)
            return chunk

        def close(self):
            self.body.close()

    async with open_client(moto_s3) as client:
        original = client.raw.get_object

        async def cut_third_range(**params):
            response = await original(**params)
            if params["Range"].startswith(f"bytes={2 * MiB}-"):
                response["Body"] = CutBody(response["Body"], response["ContentLength"])
            return response

        client.raw.get_object = cut_third_range
        download = await download_parts(client, BUCKET, KEY, part_size=MiB)
        with pytest.raises(StorageError) as raised:
            async with download:
                async for _ in download:
                    pass
    assert str(raised.value) == (
        f"Download of s3://{BUCKET}/{KEY} ended after {3 * MiB - 1000} of {4 * MiB} bytes "
        f"(the range {2 * MiB}-{3 * MiB - 1} was cut short)"
    )
    assert download.bytes_read == 2 * MiB + MiB - 1000  # what came, in order, before the failure


async def test_connection_cut_mid_body_is_a_clear_error_and_leaves_nothing_running(moto_s3):
    """A real connection closed halfway through a range's body (through a proxy that cuts
    every answer after 300 KiB): aiohttp's own error, not botocore's, reaches the reader."""
    moto_s3.make_bucket(BUCKET)
    put(moto_s3, os.urandom(4 * MiB))
    async with CuttingProxy(("127.0.0.1", moto_s3.port), cut_after=300 * 1024) as proxy:
        config = moto_s3.storage_config(BUCKET, endpoint_url=proxy.url)
        async with S3Client(config, max_pool_connections=10) as client:
            download = await download_parts(client, BUCKET, KEY, parallel=4, part_size=MiB)
            with pytest.raises(StorageError) as raised:
                async with download:
                    async for _ in download:
                        pass
            assert other_tasks() == {task for task in other_tasks() if task in proxy.tasks}
    assert proxy.cuts >= 1
    message = str(raised.value)
    assert message.startswith(f"Download of s3://{BUCKET}/{KEY} ended after ")
    assert message.endswith(f"of {4 * MiB} bytes (the range 0-{MiB - 1} was cut short)")
    assert moto_s3.secret_access_key not in message


async def test_single_stream_cut_mid_body_is_a_clear_error(moto_s3):
    from dflow_tui.storage import download_stream

    moto_s3.make_bucket(BUCKET)
    put(moto_s3, os.urandom(2 * MiB))
    proxy = CuttingProxy(("127.0.0.1", moto_s3.port), cut_after=300 * 1024)
    async with proxy, S3Client(moto_s3.storage_config(BUCKET, endpoint_url=proxy.url)) as client:
        stream = await download_stream(client, BUCKET, KEY, chunk_size=64 * 1024)
        with pytest.raises(StorageError) as raised:
            async with stream:
                async for _ in stream:
                    pass
    assert str(raised.value) == (
        f"The connection to {proxy.url} broke during GetObject: the answer was cut short"
    )


async def test_endpoint_gone_mid_download_is_a_clear_error_and_leaves_nothing_running(moto_s3):
    moto_s3.make_bucket(BUCKET)
    put(moto_s3, os.urandom(12 * MiB))
    async with open_client(moto_s3, max_attempts=2, connect_timeout=2) as client:
        download = await download_parts(client, BUCKET, KEY, parallel=4, part_size=MiB)
        with pytest.raises(StorageError) as raised:
            async with download:
                async for _ in download:
                    if download.bytes_read == MiB:
                        await asyncio.to_thread(moto_s3.kill)
        assert other_tasks() == set()
    message = str(raised.value)
    assert "Cannot reach endpoint URL" in message or "broke during GetObject" in message
    assert moto_s3.secret_access_key not in message


# ------------------------------------------------------------------- arguments


async def test_iterating_twice_is_refused(moto_s3):
    moto_s3.make_bucket(BUCKET)
    put(moto_s3, b"x")
    async with open_client(moto_s3) as client:
        download = await download_parts(client, BUCKET, KEY)
        async with download:
            assert await _join(download) == b"x"
            with pytest.raises(RuntimeError, match="only once"):
                download.__aiter__()


@pytest.mark.parametrize("parallel", [0, 17])
async def test_parallel_out_of_range_is_refused(parallel):
    with pytest.raises(ValueError, match="between 1 and 16"):
        await download_parts(None, BUCKET, KEY, parallel=parallel)  # type: ignore[arg-type]


async def test_pool_smaller_than_parallel_is_refused(moto_s3):
    async with S3Client(moto_s3.storage_config(BUCKET), max_pool_connections=2) as client:
        with pytest.raises(ValueError, match="max_pool_connections >= 3"):
            await download_parts(client, BUCKET, KEY, parallel=3)


async def _join(download) -> bytes:
    return b"".join([chunk async for chunk in download])
