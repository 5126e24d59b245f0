"""Loading and updating the rows a job works on, each in its own short transaction."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import update as sql_update
from sqlmodel import SQLModel, col, select

from dflow_tui.core.errors import NotFound
from dflow_tui.store.db import Database
from dflow_tui.store.tables import Environment, Project, Service

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


async def update_where(
    db: Database, model: type[Row], row_id: int, where: list, **values: Any
) -> tuple[bool, Row]:
    """Writes `values` on the row only while `where` holds, in one statement; returns
    whether it did, and the row as it is now."""
    async with db.session() as session:
        result = await session.exec(sql_update(model).where(model.id == row_id, *where).values(**values))
        await session.commit()
        row = await session.get(model, row_id, populate_existing=True)
    if row is None:
        raise NotFound(f"No {model.__tablename__[:-1]} with id {row_id}")
    return result.rowcount == 1, row


async def update_if_ours(
    db: Database, model: type[Row], row_id: int, worker_id: str, active: tuple[str, ...], **values: Any
) -> Row | None:
    """Updates the row only while this worker still holds it in an active status.

    None means somebody else settled it (stale cleanup), and nothing was written."""
    written, row = await update_where(
        db, model, row_id, [model.worker_id == worker_id, col(model.status).in_(active)], **values
    )
    return row if written else None


async def service_path(db: Database, service_id: int) -> str:
    """`PROJECT/ENV/NAME` of a service, for messages."""
    async with db.reading() as session:
        row = (
            await session.exec(
                select(Project.name, Environment.name, Service.name)
                .join(Environment, Service.environment_id == Environment.id)
                .join(Project, Environment.project_id == Project.id)
                .where(Service.id == service_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"No service with id {service_id}")
    return "/".join(row)
