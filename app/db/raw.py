"""Driver connections without SQLAlchemy, for the few statements of the busiest path.

SQLAlchemy costs 0.1-0.3 ms of CPU per statement (session, cache key, result processing), more
than an indexed read itself; the ticket look-up (the IVR's and the API's) is two such reads. A
small pool of the driver's own connections (aiosqlite, asyncpg) runs statements compiled once
from SQLAlchemy constructs (`Compiled`), so the SQL is still written in one place for both
engines. Rows come back as tuples of the driver's values: SQLite's dates are ISO strings.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import aiosqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

# Connections kept by the pool: the busiest route's concurrency on this machine's cores, well
# under the server's connection limit (SQLAlchemy's pool has its own).
RAW_POOL_SIZE = 8

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Compiled:
    """A statement compiled for one dialect, with its parameters in positional order."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]  # the values written in the statement (literals bound as params)

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> Compiled:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        fixed = {k: v for k, v in compiled.params.items() if v is not None}
        return cls(str(compiled), tuple(compiled.positiontup or ()), fixed)

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] if name in values else self.fixed[name] for name in self.names]


Query = tuple[Compiled, Mapping[str, Any]]


class RawConnection:
    """One driver connection, checked out of a RawPool."""

    async def fetch(self, *queries: Query) -> list[list[Row]]:
        """The rows of each query, run in order (SQLite: in one hand-off to its thread)."""
        raise NotImplementedError

    async def write(self, *statements: tuple[Compiled, Sequence[Mapping[str, Any]]]) -> None:
        """Run each statement once per parameter set, all in one transaction."""
        raise NotImplementedError


def _sqlite_fetch(conn: sqlite3.Connection,
                  queries: list[tuple[str, list[Any]]]) -> list[list[Row]]:
    return [conn.execute(sql, args).fetchall() for sql, args in queries]


def _sqlite_write(conn: sqlite3.Connection, statements: list[tuple[str, list[list[Any]]]]) -> None:
    try:
        for sql, rows in statements:
            conn.executemany(sql, rows)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


class _SqliteConnection(RawConnection):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn: Any = conn  # its _execute (one call on its thread) is untyped

    async def fetch(self, *queries: Query) -> list[list[Row]]:
        # aiosqlite's own per-call hand-off, with every statement in one call.
        todo = [(c.sql, c.args(values)) for c, values in queries]
        rows: list[list[Row]] = await self.conn._execute(_sqlite_fetch, self.conn._conn, todo)
        return rows

    async def write(self, *statements: tuple[Compiled, Sequence[Mapping[str, Any]]]) -> None:
        todo = [(c.sql, [c.args(v) for v in values]) for c, values in statements]
        await self.conn._execute(_sqlite_write, self.conn._conn, todo)


class _PgConnection(RawConnection):
    def __init__(self, conn: Any) -> None:  # an asyncpg.Connection
        self.conn = conn

    async def fetch(self, *queries: Query) -> list[list[Row]]:
        return [await self.conn.fetch(c.sql, *c.args(values)) for c, values in queries]

    async def write(self, *statements: tuple[Compiled, Sequence[Mapping[str, Any]]]) -> None:
        async with self.conn.transaction():
            for c, values in statements:
                await self.conn.executemany(c.sql, [c.args(v) for v in values])


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Every SQLite connection's settings, the engine's and the raw pool's."""
    cur = dbapi_conn.cursor()
    # WAL lets the API read while a call writes; busy_timeout waits out short write locks.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


_CONNECTING = object()  # a connection being opened


class Lease:
    def __init__(self, pool: RawPool) -> None:
        self.pool = pool
        self.conn: RawConnection | None = None

    async def __aenter__(self) -> RawConnection:
        self.conn = await self.pool.acquire()
        return self.conn

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        assert self.conn is not None
        self.pool.release(self.conn, failed=exc_type is not None)


class RawPool:
    """Up to `size` driver connections to the database, opened on first use.

    A connection comes back as it was lent unless the borrower failed half-way (an error or a
    cancelled request): a PostgreSQL connection is then closed, which ends whatever it held
    (a transaction, an advisory lock), and replaced when next needed. asyncpg's own pool is
    not used: it resets every connection it takes back, a round trip per request.
    """

    def __init__(self, dialect: Dialect, connect_args: tuple[Sequence[Any], Mapping[str, Any]],
                 size: int = RAW_POOL_SIZE) -> None:
        self.dialect = dialect
        self.name = dialect.name
        self._args, self._kwargs = connect_args
        self.size = size
        self._idle: list[Any] = []  # aiosqlite or asyncpg connections
        self._all: list[Any] = []
        # Borrowers waiting, in order; each gets a connection, or None: open one.
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._compiled: dict[ClauseElement, Compiled] = {}

    def compile(self, statement: ClauseElement) -> Compiled:
        """The statement for this database's dialect, compiled once."""
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = self._compiled[statement] = Compiled.of(statement, self.dialect)
        return compiled

    def connection(self) -> Lease:
        """`async with pool.connection() as conn`: acquire, then release (failed or not)."""
        return Lease(self)

    async def acquire(self) -> RawConnection:
        conn = await self._checkout()
        return _PgConnection(conn) if self.name == "postgresql" else _SqliteConnection(conn)

    def release(self, lent: RawConnection, failed: bool = False) -> None:
        """Take a connection back; `failed`: its borrower stopped half-way (an error, a
        cancelled request). SQLite's is still good then: a statement whose caller gave up
        ends (committed or rolled back) on the connection's thread before the next one."""
        conn = cast(Any, lent).conn
        if self.name == "postgresql" and (failed or conn.is_in_transaction()):
            self._all.remove(conn)
            conn.terminate()
            self._hand_over(None)  # its place is free: the next in line opens one
        else:
            self._hand_over(conn)

    def _hand_over(self, conn: Any) -> None:
        """To the borrower waiting longest, directly: first come, first served (a newcomer
        taking it from the idle list ahead of a woken waiter made some wait very long)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)

    async def _checkout(self) -> Any:
        if not self._waiters:
            if self._idle:
                return self._idle.pop()
            if len(self._all) < self.size:
                return await self._open()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            conn = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._hand_over(waiter.result())  # handed one, but leaving: pass it on
            raise
        return conn if conn is not None else await self._open()

    async def _open(self) -> Any:
        self._all.append(_CONNECTING)  # counts against the size while connecting
        try:
            conn = await self._connect()
        except BaseException:
            self._all.remove(_CONNECTING)
            self._hand_over(None)  # the place is free again
            raise
        self._all.remove(_CONNECTING)
        self._all.append(conn)
        return conn

    async def _connect(self) -> Any:
        if self.name == "postgresql":
            import asyncpg  # type: ignore[import-untyped]

            return await asyncpg.connect(*self._args, **self._kwargs)
        conn = aiosqlite.connect(*self._args, **self._kwargs)
        conn._thread.daemon = True  # as the engine's: never holds the interpreter at exit
        await conn
        await cast(Any, conn)._execute(sqlite_pragmas, conn._conn, None)
        return conn

    async def close(self) -> None:
        connections, self._all, self._idle = self._all, [], []
        for conn in connections:
            if conn is not _CONNECTING:
                await conn.close()
