"""upload_parts(): a multipart upload with K parts in flight, against moto's server over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
from collections.abc import AsyncIterator, Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from dflow_tui.core.errors import DflowError, RemoteError
from dflow_tui.storage import (
    S3Client,
    StorageConfig,
    UploadAborted,
    UploadNotAborted,
    abort_uploads_of,
    upload,
)
from dflow_tui.storage.multipart import MAX_OBJECT_SIZE, MiB
from dflow_tui.storage.upload import upload_parts

BUCKET = "dflow-parallel-upload"
KEY = "dflow/backups/db-2026-01-02-03-04-05-678.dump"
PART = 5 * MiB  # S3's (and moto's) minimum for every part but the last
# Chunk sizes the stream is cut into: tiny, odd, one larger than two parts.
CHUNK_SIZES = (1, 64 * 1024, 1000, 256 * 1024 + 3, 12 * MiB, 7, 1 * MiB)


def chunked(data: bytes, sizes: tuple[int, ...] = CHUNK_SIZES) -> Iterator[bytes]:
    offset = 0
    for size in itertools.cycle(sizes):
        if offset >= len(data):
            return
        yield data[offset : offset + size]
        offset += size


async def stream(data: bytes, sizes: tuple[int, ...] = CHUNK_SIZES) -> AsyncIterator[bytes]:
    for chunk in chunked(data, sizes):
        yield chunk


def open_client(moto_s3, parallel: int = 4, **options) -> S3Client:
    return S3Client(moto_s3.storage_config(BUCKET), max_pool_connections=max(10, parallel), **options)


def record_parts(client: S3Client) -> list[tuple[int, int]]:
    """(part number, body size) of every UploadPart the client sends."""
    sent: list[tuple[int, int]] = []

    def record(params, **_):
        sent.append((params["PartNumber"], len(params["Body"])))

    client.raw.meta.events.register("provide-client-params.s3.UploadPart", record)
    return sent


class SlowParts:
    """Wraps client.raw.upload_part: each call waits `delay` seconds first; counts what is in flight."""

    def __init__(self, client: S3Client, delay: float, *, on_start=None):
        self.original = client.raw.upload_part
        self.delay = delay
        self.on_start = on_start
        self.in_flight = 0
        self.max_in_flight = 0
        self.cancelled = 0
        self.started = 0
        self.finished: list[int] = []  # part numbers, in the order their upload_part returned
        client.raw.upload_part = self

    async def __call__(self, **params):
        self.in_flight += 1
        self.started += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.on_start is not None:
                await self.on_start(params, self)
            await asyncio.sleep(self.delay)
            response = await self.original(**params)
            self.finished.append(params["PartNumber"])
            return response
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


def assert_nothing_left(moto_s3, key: str = KEY) -> None:
    assert moto_s3.versions_of(BUCKET, key) == []
    assert moto_s3.multipart_uploads(BUCKET) == []


def stored(moto_s3, key: str = KEY) -> bytes:
    return moto_s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()


# ----------------------------------------------------------------- round trips


@pytest.mark.parametrize("parallel", [1, 4, 16])
@pytest.mark.parametrize(
    ("size", "part_count"),
    [(0, 0), (3 * MiB, 0), (3 * PART, 3), (3 * PART + 12345, 4)],
    ids=["empty", "under-one-part", "exactly-3-parts", "3-parts-and-a-bit"],
)
async def test_round_trip(moto_s3, size, part_count, parallel):
    moto_s3.make_bucket(BUCKET, versioned=True)
    data = os.urandom(size)
    progress: list[tuple[int, int | None]] = []
    async with open_client(moto_s3, parallel) as client:
        sent = record_parts(client)
        result = await upload_parts(
            client,
            BUCKET,
            KEY,
            stream(data),
            parallel=parallel,
            expected_size=size,
            min_part_size=PART,
            on_progress=lambda done, total: progress.append((done, total)),
        )
    sha256 = hashlib.sha256(data).hexdigest()
    assert (result.size, result.sha256, result.part_count) == (size, sha256, part_count)
    assert hashlib.sha256(stored(moto_s3)).hexdigest() == sha256
    assert result.version_id == moto_s3.versions_of(BUCKET, KEY)[0]["VersionId"]
    full_parts, tail = divmod(size, PART) if part_count else (0, 0)
    assert sorted(sent) == [(n, PART) for n in range(1, full_parts + 1)] + (
        [(part_count, tail)] if tail else []
    )
    done = [d for d, _ in progress]
    assert done == sorted(done) and done[-1] == size  # grows, ends at the size
    assert {total for _, total in progress} == {size}
    assert moto_s3.multipart_uploads(BUCKET) == []


async def test_parts_are_uploaded_k_at_a_time_while_the_next_is_read(moto_s3, monkeypatch):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(12 * PART)
    handed_over = 0  # parts given to the uploader: each first computes its Content-MD5
    in_flight_while_reading: list[int] = []
    part_md5 = upload._part_md5

    async def counted_md5(part: memoryview) -> str:
        nonlocal handed_over
        handed_over += 1
        return await part_md5(part)

    monkeypatch.setattr(upload, "_part_md5", counted_md5)

    async with open_client(moto_s3, 4) as client:
        slow = SlowParts(client, 0.3)

        async def watched() -> AsyncIterator[bytes]:
            async for chunk in stream(data):
                in_flight_while_reading.append(handed_over - len(slow.finished))
                yield chunk

        result = await upload_parts(client, BUCKET, KEY, watched(), parallel=4, min_part_size=PART)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert slow.max_in_flight == 4  # never more than K
    # The next part was read while at least K - 1 others were out (handed over, not yet
    # answered), whether they were still hashing or already on the wire.
    assert max(in_flight_while_reading) >= 3


async def test_progress_only_grows_when_parts_complete_out_of_order(moto_s3):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(6 * PART + 1)

    async def first_part_last(params, _):
        if params["PartNumber"] == 1:
            await asyncio.sleep(0.5)

    progress: list[int] = []
    async with open_client(moto_s3) as client:
        slow = SlowParts(client, 0.0, on_start=first_part_last)
        await upload_parts(
            client, BUCKET, KEY, stream(data), min_part_size=PART, on_progress=lambda d, _: progress.append(d)
        )
    assert slow.finished[0] != 1  # part 1 really completed after others
    assert progress == sorted(progress) and len(set(progress)) == len(progress) == 7
    assert progress[-1] == len(data)


async def test_async_progress_callback_is_awaited(moto_s3):
    moto_s3.make_bucket(BUCKET)
    seen: list[int] = []

    async def on_progress(done, total):
        await asyncio.sleep(0)
        seen.append(done)

    async with open_client(moto_s3) as client:
        await upload_parts(
            client, BUCKET, KEY, stream(os.urandom(2 * PART)), min_part_size=PART, on_progress=on_progress
        )
    assert seen[-1] == 2 * PART


# -------------------------------------------------------- failures leave nothing


async def test_stream_failing_with_parts_in_flight_aborts(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    data = os.urandom(10 * PART)

    async def failing() -> AsyncIterator[bytes]:
        for offset in range(0, 5 * PART, MiB):
            yield data[offset : offset + MiB]
        assert len(moto_s3.multipart_uploads(BUCKET)) == 1  # the upload did exist
        raise OSError("ssh channel closed")

    async with open_client(moto_s3) as client:
        # Long enough that parts are surely in flight when the stream fails, even on a
        # loaded machine.
        slow = SlowParts(client, 2.0)
        with pytest.raises(UploadAborted) as raised:
            await upload_parts(client, BUCKET, KEY, failing(), min_part_size=PART)
    message = str(raised.value)
    assert message.startswith(f"Reading the dump failed after {5 * PART} bytes: OSError: ssh channel closed")
    assert message.endswith("; the multipart upload was aborted, nothing was left in the bucket")
    assert isinstance(raised.value.__cause__.__cause__, OSError)
    assert slow.cancelled >= 1  # parts were in flight when the stream failed
    assert_nothing_left(moto_s3)


async def test_stream_dflow_error_goes_up_unchanged_after_abort(moto_s3):
    moto_s3.make_bucket(BUCKET)

    async def export_failed() -> AsyncIterator[bytes]:
        yield os.urandom(3 * PART)
        raise RemoteError("dokku postgres:export db failed: exit status 1")

    async with open_client(moto_s3) as client:
        with pytest.raises(RemoteError, match="export db failed"):
            await upload_parts(client, BUCKET, KEY, export_failed(), min_part_size=PART)
    assert_nothing_left(moto_s3)


async def test_stream_failing_before_the_first_part_leaves_nothing(moto_s3):
    moto_s3.make_bucket(BUCKET)

    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise OSError("ssh channel closed")

    async with open_client(moto_s3) as client:
        with pytest.raises(
            DflowError, match=r"^Reading the dump failed after 1000 bytes: OSError: ssh channel closed$"
        ):
            await upload_parts(client, BUCKET, KEY, failing(), min_part_size=PART)
    assert_nothing_left(moto_s3)


async def test_one_part_rejected_cancels_the_others_and_aborts(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    data = os.urandom(12 * PART)

    async def reject_part_3(params, _):
        if params["PartNumber"] == 3:
            await asyncio.sleep(0.1)  # parts 1, 2 and 4 are on their way
            error = {"Code": "BadDigest", "Message": "The Content-MD5 you specified did not match"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "UploadPart")

    async with open_client(moto_s3) as client:
        slow = SlowParts(client, 1.0, on_start=reject_part_3)
        with pytest.raises(UploadAborted) as raised:
            await upload_parts(client, BUCKET, KEY, stream(data), min_part_size=PART)
    assert str(raised.value) == (
        f"UploadPart on s3://{BUCKET}/{KEY} failed: BadDigest: The Content-MD5 you specified did not match; "
        "the multipart upload was aborted, nothing was left in the bucket"
    )
    assert raised.value.code == "BadDigest"
    assert slow.cancelled == 3  # the other three parts in flight were cancelled
    assert slow.started == 4  # and no part was started after the failure
    assert_nothing_left(moto_s3)


async def test_endpoint_gone_with_k_parts_in_flight_then_back_for_the_abort(moto_s3):
    moto_s3.make_bucket(BUCKET, versioned=True)
    data = os.urandom(12 * PART)
    killed = asyncio.Event()

    async def kill_when_four_in_flight(_, slow):
        if slow.in_flight == 4 and not killed.is_set():
            killed.set()
            await asyncio.to_thread(moto_s3.kill)

    async with open_client(moto_s3, max_attempts=2, connect_timeout=2) as client:
        slow = SlowParts(client, 0.0, on_start=kill_when_four_in_flight)
        aborts: list[int] = []

        def on_abort(**_):
            aborts.append(1)
            if len(aborts) == 2:  # the first abort found the endpoint down: back for the next
                moto_s3.start()

        client.raw.meta.events.register("before-call.s3.AbortMultipartUpload", on_abort)
        with pytest.raises(UploadAborted) as raised:
            await upload_parts(client, BUCKET, KEY, stream(data), min_part_size=PART, abort_timeout=30)
    assert slow.max_in_flight == 4
    assert len(aborts) >= 2
    assert "UploadPart" in str(raised.value) or "endpoint" in str(raised.value)
    assert str(raised.value).endswith("the multipart upload was aborted, nothing was left in the bucket")
    assert_nothing_left(moto_s3)


async def test_endpoint_gone_for_good_names_the_orphan_and_cleanup_removes_it(moto_s3):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(12 * PART)

    async def kill_at_part_3(params, _):
        if params["PartNumber"] == 3:
            await asyncio.to_thread(moto_s3.kill)

    config = moto_s3.storage_config(BUCKET)
    async with S3Client(config, max_attempts=2, connect_timeout=2) as client:
        SlowParts(client, 0.0, on_start=kill_at_part_3)
        with pytest.raises(UploadNotAborted) as raised:
            await upload_parts(client, BUCKET, KEY, stream(data), min_part_size=PART, abort_timeout=1)
    error = raised.value
    assert error.upload_id and f"aborting the multipart upload {error.upload_id} failed too" in str(error)
    assert "Cannot reach endpoint URL" in str(error)
    assert config.secret_access_key not in str(error)

    moto_s3.start()
    assert [u["UploadId"] for u in moto_s3.multipart_uploads(BUCKET)] == [error.upload_id]
    async with S3Client(config) as client:
        assert await abort_uploads_of(client, BUCKET, KEY) == 1
    assert_nothing_left(moto_s3)


async def test_cancellation_with_parts_in_flight_aborts(moto_s3):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(12 * PART)
    async with open_client(moto_s3) as client:
        slow = SlowParts(client, 3600)
        task = asyncio.create_task(upload_parts(client, BUCKET, KEY, stream(data), min_part_size=PART))
        while slow.in_flight < 4:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert slow.cancelled == 4
    assert_nothing_left(moto_s3)


async def test_cancelled_again_during_the_cleanup_still_aborts(moto_s3):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(12 * PART)
    async with open_client(moto_s3) as client:
        slow = SlowParts(client, 3600)
        task = asyncio.create_task(upload_parts(client, BUCKET, KEY, stream(data), min_part_size=PART))
        aborts: list[int] = []

        def cancel_again(**_):
            aborts.append(1)
            if len(aborts) == 1:
                task.cancel()  # an impatient caller: the abort must still run to its end

        client.raw.meta.events.register("before-call.s3.AbortMultipartUpload", cancel_again)
        while slow.in_flight < 4:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert aborts
    assert_nothing_left(moto_s3)


async def test_cancellation_while_the_upload_is_being_created_still_aborts_it(moto_s3):
    """The upload exists on the server but its id is not back yet when the job is cancelled."""
    moto_s3.make_bucket(BUCKET)
    created = asyncio.Event()
    async with open_client(moto_s3) as client:
        original = client.raw.create_multipart_upload

        async def slow_answer(**params):
            response = await original(**params)
            created.set()
            await asyncio.sleep(0.5)  # the answer is slow to come back
            return response

        client.raw.create_multipart_upload = slow_answer
        task = asyncio.create_task(
            upload_parts(client, BUCKET, KEY, stream(os.urandom(3 * PART)), min_part_size=PART)
        )
        await asyncio.wait_for(created.wait(), 30)
        assert len(moto_s3.multipart_uploads(BUCKET)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert_nothing_left(moto_s3)


async def test_a_short_outage_is_absorbed_by_the_retries(moto_s3):
    moto_s3.make_bucket(BUCKET)
    data = os.urandom(8 * PART + 5)

    async def blip_at_part_3(params, _):
        if params["PartNumber"] == 3:
            await asyncio.to_thread(moto_s3.kill)
            threading.Timer(0.3, moto_s3.start).start()

    async with open_client(moto_s3, max_attempts=8) as client:
        SlowParts(client, 0.0, on_start=blip_at_part_3)
        attempts: list[int] = []
        client.raw.meta.events.register("before-send.s3.UploadPart", lambda **_: attempts.append(1))
        result = await upload_parts(client, BUCKET, KEY, stream(data), min_part_size=PART)
    assert (result.size, result.sha256, result.part_count) == (len(data), hashlib.sha256(data).hexdigest(), 9)
    assert len(attempts) > 9  # some attempt failed and was re-sent
    assert hashlib.sha256(stored(moto_s3)).hexdigest() == result.sha256
    assert moto_s3.multipart_uploads(BUCKET) == []


async def test_s3_error_on_create_is_a_clear_storage_error(moto_s3):
    async with S3Client(moto_s3.storage_config("missing-bucket")) as client:
        with pytest.raises(DflowError, match="NoSuchBucket"):
            await upload_parts(
                client, "missing-bucket", KEY, stream(os.urandom(2 * PART)), min_part_size=PART
            )


# ------------------------------------------------------------------- arguments


@pytest.mark.parametrize("parallel", [0, 17])
async def test_parallel_out_of_range_is_refused(parallel):
    with pytest.raises(ValueError, match="between 1 and 16"):
        await upload_parts(None, BUCKET, KEY, stream(b""), parallel=parallel)  # type: ignore[arg-type]


async def test_pool_smaller_than_parallel_is_refused(moto_s3):
    async with S3Client(moto_s3.storage_config(BUCKET), max_pool_connections=4) as client:
        with pytest.raises(ValueError, match="max_pool_connections >= 8"):
            await upload_parts(client, BUCKET, KEY, stream(b""), parallel=8)


async def test_part_size_below_s3_minimum_is_refused():
    with pytest.raises(ValueError, match="at least"):
        await upload_parts(None, BUCKET, KEY, stream(b""), min_part_size=MiB)  # type: ignore[arg-type]


async def test_expected_size_over_s3_maximum_is_refused():
    with pytest.raises(DflowError, match="5 TiB"):
        await upload_parts(None, BUCKET, KEY, stream(b""), expected_size=MAX_OBJECT_SIZE + 1)  # type: ignore[arg-type]


# ------------------------------------------------------ backpressure and memory


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_process():
    """moto's server in a process of its own (auth off), so that tracemalloc here sees
    only the client's memory, not the parts moto keeps."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="not-checked-by-moto",
        ).create_bucket(Bucket=BUCKET)
        yield StorageConfig(
            endpoint_url=url,
            region="us-east-1",
            bucket=BUCKET,
            access_key_id="AKIAIOSFODNN7EXAMPLE",
            secret_access_key="not-checked-by-moto",
        )
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("parallel", [1, 3])
async def test_slow_endpoint_holds_the_stream_back_and_memory_stays_bounded(moto_process, parallel):
    part_count = 10
    chunk = 256 * 1024
    source = os.urandom(chunk)
    ahead: list[int] = []
    uploaded = 0

    async def dump() -> AsyncIterator[bytes]:
        for offset in range(0, part_count * PART, chunk):
            ahead.append(offset + chunk - uploaded)  # bytes handed out beyond what is stored
            yield bytes(source)  # a fresh chunk each time, as an SSH channel gives

    def on_progress(done, _):
        nonlocal uploaded
        uploaded = done

    async with S3Client(moto_process) as client:
        SlowParts(client, 0.3)
        tracemalloc.start()
        try:
            result = await upload_parts(
                client, BUCKET, KEY, dump(), parallel=parallel, min_part_size=PART, on_progress=on_progress
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.size == part_count * PART
    # K parts in flight, one being filled, and the chunk in hand: never more.
    assert max(ahead) <= (parallel + 1) * PART + chunk
    assert max(ahead) >= (parallel + 1) * PART - chunk  # and the overlap is really used
    # Those buffers, the chunk in hand, and small change: aiohttp's 256 KiB reads per part in
    # flight, botocore's 1 MiB reads to sign the payload over plain HTTP. One more part fails this.
    assert peak <= (parallel + 1) * PART + chunk + 2 * MiB + parallel * MiB // 2, f"peak {peak / MiB:.1f} MiB"
