"""Any row by its id: find it, load it, save it, change it only while a condition holds.

The conditional writes are single UPDATE statements, so two processes racing for one
row (a worker finishing a job, stale cleanup failing it) never both succeed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col

from dflow_tui.core.errors import AlreadyExists, NotFound
from dflow_tui.store.db import Database
from dflow_tui.store.session import StateSession
from dflow_tui.store.tables import Backup, Operation

Row = TypeVar("Row", bound=SQLModel)
Job = TypeVar("Job", Backup, Operation)
"""The rows a worker claims, keeps alive with heartbeats and settles: backups and operations."""


def kind_of(model: type[SQLModel]) -> str:
    """What messages call one row of the table: "backup" for `backups`."""
    name = model.__tablename__
    return name[:-1] if isinstance(name, str) else model.__name__.lower()


def saved_id(row_id: int | None) -> int:
    """The id of a row read from the state database (only a row not saved yet has none)."""
    if row_id is None:
        raise ValueError("This row has not been saved: it has no id yet")
    return row_id


async def find(session: StateSession, model: type[Row], row_id: int) -> Row | None:
    return await session.get(model, row_id)


async def get(session: StateSession, model: type[Row], row_id: int | None) -> Row:
    """The row with this id; NotFound when there is none (an unset reference, None, included)."""
    row = None if row_id is None else await session.get(model, row_id)
    if row is None:
        raise NotFound(f"No {kind_of(model)} with id {row_id}")
    return row


async def load(db: Database, model: type[Row], row_id: int | None) -> Row:
    """`get` in a short transaction of its own."""
    async with db.session() as session:
        return await get(session, model, row_id)


async def insert(db: Database, row: Row, what: str) -> Row:
    """Saves a new row; one a unique constraint refuses is `{what} already exists`."""
    async with db.session() as session:
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:
            raise AlreadyExists(f"{what} already exists") from None
        await session.refresh(row)
        return row


async def save(session: StateSession, row: Row, **values: Any) -> Row:
    """Writes `values` on a row read through `session`, and commits."""
    for key, value in values.items():
        setattr(row, key, value)
    session.add(row)
    await session.commit()
    return row


async def delete(session: StateSession, row: SQLModel) -> None:
    """Deletes a row read through `session`, and commits."""
    await session.delete(row)
    await session.commit()


async def update(db: Database, model: type[Row], row_id: int | None, **values: Any) -> Row:
    async with db.session() as session:
        row = await get(session, model, row_id)
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
        await session.commit()
        await session.refresh(row)
        return row


async def update_where(
    db: Database, model: type[Job], row_id: int, where: Sequence[ColumnElement[bool]], **values: Any
) -> tuple[bool, Job]:
    """Writes `values` on the row only while `where` holds, in one statement; returns
    whether it did, and the row as it is now."""
    async with db.session() as session:
        result = await session.exec(sql_update(model).where(col(model.id) == row_id, *where).values(**values))
        await session.commit()
        row = await session.get(model, row_id, populate_existing=True)
    if row is None:
        raise NotFound(f"No {kind_of(model)} with id {row_id}")
    return result.rowcount == 1, row


async def update_if_ours(
    db: Database, model: type[Job], row_id: int, worker_id: str, active: Sequence[str], **values: Any
) -> Job | None:
    """Updates the row only while this worker still holds it in an active status.

    None means somebody else settled it (stale cleanup), and nothing was written."""
    written, row = await update_where(
        db, model, row_id, [col(model.worker_id) == worker_id, col(model.status).in_(active)], **values
    )
    return row if written else None


async def update_if_unchanged(db: Database, row: Job, **values: Any) -> bool:
    """Writes `values` only if nobody finished or refreshed the row since `row` was read
    (the same status, the same heartbeat); returns whether it did."""
    model = type(row)
    same_heartbeat = (
        col(model.heartbeat_at) == row.heartbeat_at
        if row.heartbeat_at is not None
        else col(model.heartbeat_at).is_(None)
    )
    async with db.session() as session:
        result = await session.exec(
            sql_update(model)
            .where(col(model.id) == row.id, col(model.status) == row.status, same_heartbeat)
            .values(**values)
        )
        await session.commit()
        return result.rowcount == 1


IN_LIST = 900
"""Ids per `IN (...)` list: well under SQLite's older limit of 999 bound parameters."""


def chunks(ids: Sequence[int], size: int = IN_LIST) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
