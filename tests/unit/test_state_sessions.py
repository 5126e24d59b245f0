"""The state database under cancellation and concurrent use, on a real SQLite file.

The app cancels tasks all the time (a refresh replaced by a newer one, a screen closed,
a job stopped); none of that may leave the file locked for the other processes."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dflow_tui.store.db import Database


@pytest.fixture
async def database(tmp_path):
    path = tmp_path / "state.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.session() as session:
        await session.exec(text("CREATE TABLE marks (x INTEGER)"))
        await session.commit()
    yield db, path
    await db.close()


def another_process_can_write(path, wait: float = 1.0) -> bool:
    """What a worker in another process finds: can it take the write lock?"""
    connection = sqlite3.connect(path, isolation_level=None, timeout=wait)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("COMMIT")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()


async def test_tasks_cancelled_mid_statement_never_leave_the_file_locked(database):
    db, path = database

    async def keep_writing():
        while True:
            async with db.session() as session:
                await session.exec(text("INSERT INTO marks VALUES (1)"))
                await session.exec(text("SELECT count(*) FROM marks"))
                await session.commit()

    rng = random.Random(7)
    for attempt in range(150):
        task = asyncio.create_task(keep_writing())
        await asyncio.sleep(rng.random() * 0.01)
        for _ in range(rng.choice([1, 1, 2, 3])):  # Textual may cancel a worker more than once
            task.cancel()
            await asyncio.sleep(rng.random() * 0.002)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert another_process_can_write(path), f"locked after cancellation {attempt}"


async def test_a_cancelled_write_is_rolled_back_not_half_done(database):
    db, path = database
    started = asyncio.Event()

    async def write_then_wait():
        async with db.session() as session:
            await session.exec(text("INSERT INTO marks VALUES (2)"))
            started.set()
            await asyncio.sleep(10)
            await session.commit()

    task = asyncio.create_task(write_then_wait())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.reading() as session:
        assert (await session.exec(text("SELECT count(*) FROM marks"))).one()[0] == 0
    assert another_process_can_write(path)


async def test_reads_do_not_wait_for_a_writer_in_another_process(database):
    db, path = database
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO marks VALUES (3)")
    try:
        began = time.monotonic()
        async with db.reading() as session:
            count = (await session.exec(text("SELECT count(*) FROM marks"))).one()[0]
        assert count == 0  # the last committed state, not the writer's pending row
        assert time.monotonic() - began < 1.0
    finally:
        writer.execute("COMMIT")
        writer.close()
    async with db.reading() as session:
        assert (await session.exec(text("SELECT count(*) FROM marks"))).one()[0] == 1


async def test_a_reading_session_refuses_to_write(database):
    db, _ = database
    async with db.reading() as session:
        with pytest.raises(OperationalError, match="readonly"):
            await session.exec(text("INSERT INTO marks VALUES (4)"))
