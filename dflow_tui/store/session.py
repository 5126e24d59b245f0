"""A session whose calls on the database are never cut off halfway by a cancellation.

Cancelling a task while its statement runs (a refresh replaced by a newer one, a
screen closed, a job stopped) would leave the driver's connection mid-transaction:
SQLAlchemy then discards it, and on SQLite such an orphaned connection can keep the
write lock until the process exits, stalling every other worker on the state file.
So each call runs in a task of its own; a cancellation that arrives meanwhile is
raised once the call has finished, and the session's close then ends the transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Executable, Result
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")


async def run_to_completion(call: Coroutine[Any, Any, T]) -> T:
    """Awaits `call` to its end; a cancellation received meanwhile is re-raised after."""
    task = asyncio.ensure_future(call)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as error:
            if task.done():
                raise
            cancelled = error
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


class StateSession(AsyncSession):
    """The async session every part of the app uses on the state database."""

    # Type checkers see AsyncSession's own (overloaded) signatures; at run time each
    # call is only wrapped so that a cancellation cannot cut it off halfway.
    if not TYPE_CHECKING:

        async def exec(self, *args, **kwargs):
            return await run_to_completion(super().exec(*args, **kwargs))

        async def get(self, *args, **kwargs):
            return await run_to_completion(super().get(*args, **kwargs))

        async def refresh(self, *args, **kwargs):
            return await run_to_completion(super().refresh(*args, **kwargs))

        async def delete(self, *args, **kwargs):
            return await run_to_completion(super().delete(*args, **kwargs))

        async def flush(self, *args, **kwargs):
            return await run_to_completion(super().flush(*args, **kwargs))

        async def commit(self):
            return await run_to_completion(super().commit())

        async def rollback(self):
            return await run_to_completion(super().rollback())

        async def close(self):
            return await run_to_completion(super().close())

    async def plain(self, statement: Executable) -> Result[*tuple[Any, ...]]:
        """`statement`'s rows, each made as it is iterated and without the ORM's loading
        (which builds every row at once): for reads of the whole fleet, whose rows are
        better turned one by one into what is kept. Iterate it inside the session."""
        connection = await run_to_completion(self.connection())
        return await run_to_completion(connection.execute(statement))
