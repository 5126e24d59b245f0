"""Backup and restore plans: the layers named by the suffix, run forwards and backwards, readable by the standard tools."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from infra.tools import find_program, missing
from pyrage import x25519

from dflow_tui.core.errors import InvalidName
from dflow_tui.pipeline import (
    DecryptionFailed,
    IdentityNeeded,
    Layers,
    Plan,
    WrongIdentity,
    backup_plan,
    load_identity,
    parse_recipient,
    restore_plan,
    run_pipeline,
)

KiB = 1 << 10
MiB = 1 << 20
ALL = [Layers(False, False), Layers(True, False), Layers(False, True), Layers(True, True)]


def dump_text(size: int) -> bytes:
    line = b"INSERT INTO public.orders VALUES (%d, 'customer %d', %d.%02d);\n"
    out = bytearray()
    number = 0
    while len(out) < size:
        number += 1
        out += line % (number, number * 7919 % 10007, number % 9973, number % 100)
    return bytes(out[:size])


async def run_plan(data: bytes, plan: Plan, piece: int = 64 * KiB) -> bytes:
    pieces = iter([data[i : i + piece] for i in range(0, len(data), piece)])

    async def source() -> bytes:
        return next(pieces, b"")

    async def collect(stream: AsyncIterator[bytes]) -> bytes:
        out = bytearray()
        async for chunk in stream:
            out += chunk
        return bytes(out)

    return await run_pipeline(source, plan.stages, collect)


@pytest.fixture(scope="module")
def age_identity() -> x25519.Identity:
    return x25519.Identity.generate()


# -- names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "suffix"),
    zip(ALL, [".dump", ".dump.zst", ".dump.age", ".dump.zst.age"], strict=True),
)
def test_the_suffix_names_the_layers(layers: Layers, suffix: str) -> None:
    assert layers.suffix == suffix
    name = layers.name("shop-db-2026-01-02-03-04-05-678.dump")
    assert name == "shop-db-2026-01-02-03-04-05-678" + suffix
    assert Layers.of(f"dflow/backups/{name}") == layers
    assert Layers.dump_name(name) == "shop-db-2026-01-02-03-04-05-678.dump"


@pytest.mark.parametrize("name", ["x.dump.gz", "x.zst", "x.dump.age.zst", "x.dumpzst", "x"])
def test_other_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName, match="not a dump name"):
        Layers.of(name)


def test_only_dump_names_take_a_suffix() -> None:
    with pytest.raises(InvalidName):
        Layers(True, True).name("notes.txt")


# -- plans -------------------------------------------------------------------


@pytest.mark.parametrize("layers", ALL, ids=lambda layers: layers.suffix)
async def test_backup_then_restore_gives_the_dump_back(layers: Layers, age_identity: x25519.Identity) -> None:
    data = dump_text(3 * MiB) + os.urandom(512 * KiB)
    recipients = [parse_recipient(str(age_identity.to_public()))] if layers.encrypted else []
    backup = backup_plan(compress=layers.compressed, recipients=recipients)
    assert backup.layers == layers
    stored = await run_plan(data, backup)

    assert (backup.plain.size, backup.plain.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert (backup.stored.size, backup.stored.sha256) == (len(stored), hashlib.sha256(stored).hexdigest())
    if layers == Layers():
        assert stored == data and backup.stored is backup.plain

    identity = load_identity(str(age_identity)) if layers.encrypted else None
    restore = restore_plan(layers, identity=identity)
    assert await run_plan(stored, restore) == data
    assert restore.stored.sha256 == backup.stored.sha256
    assert restore.plain.sha256 == backup.plain.sha256


async def test_the_standard_tools_undo_the_layers_in_order(
    age_identity: x25519.Identity, tmp_path: Path
) -> None:
    age, zstd = find_program("age"), find_program("zstd")
    if age is None or zstd is None:
        missing("age and zstd (the command-line tools)", "apt-get install -y age zstd")
    assert age is not None and zstd is not None
    data = dump_text(2 * MiB)
    backup = backup_plan(compress=True, recipients=[parse_recipient(str(age_identity.to_public()))])
    stored_path = tmp_path / backup.layers.name("shop-db-2026-01-02-03-04-05-678.dump")
    stored_path.write_bytes(await run_plan(data, backup))
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"{age_identity}\n")

    command = f"'{age}' -d -i '{key_file}' '{stored_path}' | '{zstd}' -d -q -c"
    process = await asyncio.create_subprocess_shell(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out == data


async def test_restoring_an_encrypted_backup_needs_an_identity() -> None:
    with pytest.raises(
        IdentityNeeded, match=r"encrypted for sha256:0123456789abcdef; restoring it needs an identity"
    ):
        restore_plan(Layers(True, True), encrypted_for=["sha256:0123456789abcdef"])
    restore_plan(Layers(True, False))  # only compressed: nothing to ask for


async def test_a_restore_with_the_wrong_identity_or_damaged_bytes_is_refused(
    age_identity: x25519.Identity,
) -> None:
    recipient = parse_recipient(str(age_identity.to_public()))
    backup = backup_plan(compress=True, recipients=[recipient])
    stored = await run_plan(dump_text(MiB), backup)

    stranger = load_identity(str(x25519.Identity.generate()))
    restore = restore_plan(backup.layers, identity=stranger, encrypted_for=[recipient.fingerprint])
    with pytest.raises(WrongIdentity, match=f"encrypted for {recipient.fingerprint}; the identity given"):
        await run_plan(stored, restore)

    restore = restore_plan(backup.layers, identity=load_identity(str(age_identity)))
    with pytest.raises(DecryptionFailed):
        await run_plan(stored[: len(stored) - 100], restore)


async def test_the_loop_keeps_ticking_during_a_full_backup(age_identity: x25519.Identity) -> None:
    """Compression, encryption and hashing run in threads; the loop (SSH, S3, the TUI) still gets its turns."""
    data = dump_text(16 * MiB) + os.urandom(16 * MiB)
    backup = backup_plan(compress=True, recipients=[parse_recipient(str(age_identity.to_public()))])
    late: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            late.append(time.perf_counter() - start - 0.01)

    ticking = asyncio.create_task(ticker())
    await run_plan(data, backup, piece=MiB)
    done.set()
    await ticking
    assert len(late) > 3 and max(late) < 0.5


@pytest.mark.parametrize("layers", ALL, ids=lambda layers: layers.suffix)
async def test_an_empty_dump_round_trips(layers: Layers, age_identity: x25519.Identity) -> None:
    recipients = [parse_recipient(str(age_identity.to_public()))] if layers.encrypted else []
    backup = backup_plan(compress=layers.compressed, recipients=recipients)
    stored = await run_plan(b"", backup)
    assert backup.plain.size == 0 and backup.stored.size == len(stored)
    identity = load_identity(str(age_identity)) if layers.encrypted else None
    assert await run_plan(stored, restore_plan(layers, identity=identity)) == b""


@pytest.mark.parametrize("how", ["caller cancels", "sink fails", "source fails"])
async def test_stopping_a_real_backup_midway_leaves_nothing_running(
    how: str, age_identity: x25519.Identity
) -> None:
    """The libraries' own loops (zstd, age) are inside the stage threads: an abort must get them out too."""
    backup = backup_plan(compress=True, recipients=[parse_recipient(str(age_identity.to_public()))])
    consumed = 0

    async def endless() -> bytes:
        if how == "source fails" and consumed > 2 * MiB:
            raise InvalidName("source gave up")
        await asyncio.sleep(0)
        return os.urandom(256 * KiB)  # never repeated: the sink sees about as much as the source gave

    async def sink(stream: AsyncIterator[bytes]) -> None:
        nonlocal consumed
        async for chunk in stream:
            consumed += len(chunk)
            if how == "sink fails" and consumed > 2 * MiB:
                raise InvalidName("sink gave up")

    run = asyncio.create_task(run_pipeline(endless, backup.stages, sink))
    if how == "caller cancels":
        while consumed < 2 * MiB:
            await asyncio.sleep(0.01)
        run.cancel()
    with pytest.raises((asyncio.CancelledError, InvalidName)):
        await run
    assert [thread for thread in threading.enumerate() if thread.name.startswith("pipeline-")] == []
    assert {task for task in asyncio.all_tasks() if task is not asyncio.current_task()} == set()
