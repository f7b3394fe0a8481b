"""aiosqlite for SQLAlchemy with one worker-thread round trip per statement.

aiosqlite runs each sqlite3 call on its connection's thread. SQLAlchemy's adapter makes four
of those hand-offs per statement (open cursor, execute, fetch, close) and one more for the
rollback that ends every session, read-only or not. On a busy machine each hand-off costs a
thread wake-up and a GIL switch, which dominated the API's time per request. This adapter runs
execute + fetch + close as one call on the thread and skips the rollback when sqlite3 has no
transaction open (nothing to roll back). Results, errors and transactions are unchanged.

It also watches SQLite's single write lock (WriteWatch): a transaction holds it from its first
INSERT/UPDATE/DELETE to its commit or rollback, and every other writer, in this process or
another, waits meanwhile. Each statement in between is a hand-off to the worker thread and back
through the event loop, so a busy loop stretches the hold; a hold over the set time is logged
with the code that took the lock.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

log = logging.getLogger(__name__)

_APP = str(Path(__file__).resolve().parents[1])  # the app package: where callers are looked for
_DB = str(Path(__file__).resolve().parent)


@dataclass
class WriteSpan:
    """One write transaction: from the statement that took the write lock to its end."""

    began: float  # time.monotonic() just before that statement
    where: str  # the app code that ran it (innermost first)
    statements: int = 1  # worker-thread hand-offs while the lock was held, the commit included
    seconds: float = 0.0
    # The commit's own hand-off. Long alone: the disk (a commit may run a checkpoint, which
    # syncs the files; the lock is free by then, the commit has not returned yet).
    commit_seconds: float = 0.0


def app_caller(depth: int = 3) -> str:
    """The innermost app frames (outside app/db) that led here, `file:line function`. Called
    on the task's own stack (a statement's coroutine), where the frames chain up through the
    awaiting coroutines to the task's start."""
    found: list[str] = []
    frame = sys._getframe(1)
    while frame is not None and len(found) < depth:
        path = frame.f_code.co_filename
        if path.startswith(_APP) and not path.startswith(_DB):
            found.append(f"{path[len(_APP) - 3:]}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back  # type: ignore[assignment]
    return " < ".join(found) or "?"


class WriteWatch:
    """Reports write transactions that held SQLite's write lock `seconds` or longer (0: none
    are watched). Meant for finding who makes the other writers wait (`database is locked`)."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    def began(self, at: float) -> WriteSpan | None:
        return WriteSpan(at, app_caller()) if self.seconds > 0 else None

    def ended(self, span: WriteSpan) -> None:
        if span.seconds >= self.seconds:
            log.warning("a write transaction held the database's write lock %.2f s "
                        "(%d statements, the commit %.2f s; began at %s)", span.seconds,
                        span.statements, span.commit_seconds, span.where)


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
        adapt: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        async with adapt._execute_mutex:
            at = time.monotonic()
            try:
                done: _Done = await conn._execute(_run, conn._conn, many, operation, parameters)
            finally:
                adapt._counted(at)
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
    __slots__ = ("_span", "_watch")
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any, watch: WriteWatch | None = None) -> None:
        super().__init__(dbapi, connection)
        self._watch = watch
        self._span: WriteSpan | None = None

    def _counted(self, at: float) -> None:
        """After a statement (worker idle): a write transaction it began or went on with."""
        if self._watch is None:
            return
        if self._span is not None:
            self._span.statements += 1
            return
        conn = self._connection._connection
        if conn is not None and conn.in_transaction:  # this statement took the write lock
            self._span = self._watch.began(at)

    def _ended(self, ending: float | None = None) -> None:
        """`ending`: when the commit or rollback was handed off."""
        span, self._span = self._span, None
        if span is not None and self._watch is not None:
            at = time.monotonic()
            span.statements += 1
            span.seconds = at - span.began
            span.commit_seconds = at - ending if ending is not None else 0.0
            self._watch.ended(span)

    def rollback(self) -> None:
        conn = self._connection._connection
        # sqlite3 tracks its own transaction; without one a rollback has nothing to undo.
        if conn is not None and not conn.in_transaction:
            self._ended()  # SQLite may have ended it itself (some errors roll back)
            return
        ending = time.monotonic()
        try:
            super().rollback()
        finally:
            self._ended(ending)

    def commit(self) -> None:
        ending = time.monotonic()
        try:
            super().commit()
        finally:
            self._ended(ending)


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self, aiosqlite: Any, sqlite: Any, watch: WriteWatch | None = None) -> None:
        super().__init__(aiosqlite, sqlite)
        self.watch = watch

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneHopConnection(self, await_(connection), self.watch)


def dbapi(watch: WriteWatch | None = None) -> OneHopDbapi:
    """`watch`: report write transactions holding the write lock long (see WriteWatch)."""
    return OneHopDbapi(aiosqlite, sqlite3, watch)
