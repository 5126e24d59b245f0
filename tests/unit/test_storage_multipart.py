"""The multipart plan: part sizes that let 10,000 parts cover any dump up to S3's limit.

The uploader itself (parallel parts, failures, aborts) is tested against moto in
test_storage_parallel_upload.py.
"""

from __future__ import annotations

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
