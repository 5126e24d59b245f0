"""The external upload's memory: peak Python allocation (tracemalloc) while streaming dumps of
growing size through the multipart uploader, in this process, to moto in its own process.

The whole-process figure (ru_maxrss of `dflow-tui backup create`) is in data_path; this one
isolates the uploader's own allocations.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import ExitStack

from benchmarks import report
from benchmarks.s3_endpoint import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, Moto
from benchmarks.workspace import Workspace

SIZES_MIB = (32, 128, 512)
CHUNK = hashlib.sha256(b"x").digest() * 2048  # 64 KiB


async def figures(endpoint_url: str) -> None:
    from dflow_tui.storage import S3Client, StorageConfig
    from dflow_tui.storage.upload import upload_parts

    config = StorageConfig(
        endpoint_url=endpoint_url,
        region=REGION,
        bucket="bench-bucket",
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )
    peaks: dict[int, int] = {}
    async with S3Client(config) as client:
        await client.raw.create_bucket(Bucket=config.bucket)
        for megabytes in SIZES_MIB:
            count = megabytes * 1024 * 1024 // len(CHUNK)

            async def chunks(count: int = count) -> AsyncIterator[bytes]:
                for _ in range(count):
                    yield CHUNK

            tracemalloc.start()
            began = time.perf_counter()
            # What an external backup runs: DEFAULT_PARALLEL parts in flight.
            result = await upload_parts(client, config.bucket, f"bench/{megabytes}.dump", chunks())
            elapsed = time.perf_counter() - began
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            peaks[megabytes] = peak
            print(
                f"  upload {megabytes:4} MiB: {result.part_count:3} parts, peak Python memory "
                f"{peak / 2**20:6.1f} MiB, {megabytes / elapsed:6.1f} MiB/s"
            )
    largest, smallest = SIZES_MIB[-1], SIZES_MIB[0]
    print(
        f"  peak memory ratio {largest} MiB / {smallest} MiB dump: {peaks[largest] / peaks[smallest]:.2f} (1.00 = flat)"
    )


def run(workspace: Workspace) -> None:
    report.header("External upload memory (moto S3 over HTTP on 127.0.0.1)")
    with ExitStack() as stack:
        endpoint_url = Moto(stack, workspace.directory("upload-memory")).url
        asyncio.run(figures(endpoint_url))
