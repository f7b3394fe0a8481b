"""aiosqlite for SQLAlchemy with one worker-thread round trip per statement.

aiosqlite runs each sqlite3 call on its connection's thread. SQLAlchemy's adapter makes four
of those hand-offs per statement (open cursor, execute, fetch, close) and one more for the
rollback that ends every session, read-only or not. On a busy machine each hand-off costs a
thread wake-up and a GIL switch, which dominated the API's time per request. This adapter runs
execute + fetch + close as one call on the thread and skips the rollback when sqlite3 has no
transaction open (nothing to roll back). Results, errors and transactions are unchanged.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_


class _Done:
    """What a statement left behind, read once on the worker thread."""

    __slots__ = ("description", "lastrowid", "rowcount", "rows")

    def __init__(self, cursor: sqlite3.Cursor, fetch: bool) -> None:
        self.description = cursor.description
        self.rows = cursor.fetchall() if fetch and cursor.description else []
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid


def _run(conn: sqlite3.Connection, many: bool, operation: Any, parameters: Any) -> _Done:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        return _Done(cursor, fetch=not many)
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement, rows and close are one call on the worker thread."""

    __slots__ = ("_done",)

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._done: _Done | None = None

    @property
    def description(self) -> Any:
        return self._done.description if self._done else None

    @property
    def rowcount(self) -> int:
        return self._done.rowcount if self._done else -1

    @property
    def lastrowid(self) -> Any:
        return self._done.lastrowid if self._done else None

    async def _run_async(self, many: bool, operation: Any, parameters: Any) -> None:
        conn: Any = self._connection  # an aiosqlite.Connection
        async with self._adapt_connection._execute_mutex:
            done: _Done = await conn._execute(_run, conn._conn, many, operation, parameters)
        self._done = done
        self._rows = collections.deque(done.rows)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run_async(False, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._run_async(True, operation, seq_of_parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _async_soft_close(self) -> None:
        return None  # nothing is open on the worker thread

    def close(self) -> None:
        self._rows.clear()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def rollback(self) -> None:
        conn = self._connection._connection
        # sqlite3 tracks its own transaction; without one a rollback has nothing to undo.
        if conn is not None and not conn.in_transaction:
            return
        super().rollback()


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneHopConnection(self, await_(connection))  # type: ignore[arg-type]


def dbapi() -> OneHopDbapi:
    return OneHopDbapi(aiosqlite, sqlite3)
