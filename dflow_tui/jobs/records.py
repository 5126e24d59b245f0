"""Loading and updating the rows a job works on, each in its own short transaction."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import update as sql_update
from sqlmodel import SQLModel, col

from dflow_tui.core.errors import NotFound
from dflow_tui.store.db import Database

Row = TypeVar("Row", bound=SQLModel)


async def load(db: Database, model: type[Row], row_id: int) -> Row:
    async with db.session() as session:
        row = await session.get(model, row_id)
        if row is None:
            raise NotFound(f"No {model.__tablename__[:-1]} with id {row_id}")
        return row


async def update(db: Database, model: type[Row], row_id: int, **values: Any) -> Row:
    async with db.session() as session:
        row = await session.get(model, row_id)
        if row is None:
            raise NotFound(f"No {model.__tablename__[:-1]} with id {row_id}")
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
        await session.commit()
        await session.refresh(row)
        return row


async def update_if_ours(
    db: Database, model: type[Row], row_id: int, worker_id: str, active: tuple[str, ...], **values: Any
) -> Row | None:
    """Updates the row only while this worker still holds it in an active status.

    None means somebody else settled it (stale cleanup), and nothing was written."""
    async with db.session() as session:
        result = await session.exec(
            sql_update(model)
            .where(model.id == row_id, model.worker_id == worker_id, col(model.status).in_(active))
            .values(**values)
        )
        await session.commit()
        if result.rowcount != 1:
            return None
        return await session.get(model, row_id, populate_existing=True)
