"""Alembic environment: runs on the connection handed over by `store.db.migrate`."""

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

import dflow_tui.store.tables  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # run by hand, e.g. `alembic revision --autogenerate`
        url = context.config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("Set sqlalchemy.url to run migrations by hand")
        engine = create_engine(url)
        with engine.connect() as connection:
            _run_on(connection)
        return
    _run_on(connection)


def _run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
