"""Loading and updating the rows a job works on, each in its own short transaction."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import SQLModel

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
