"""Database engines and sessions: SQLite (WAL) by default, PostgreSQL via HOTLINE_DATABASE_URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def normalise_url(url: str) -> str:
    """Accept plain sqlite:/// and postgresql:// URLs and pick the async drivers."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the API read while a call writes; busy_timeout waits out short write locks.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


# Connections kept open. A connection beyond the pool is closed again when returned, and opening
# one is costly (a thread and four pragmas for SQLite, a server process for PostgreSQL), so the
# pool covers the API's usual concurrency and overflow is only for bursts.
POOL_SIZE = 20
MAX_OVERFLOW = 10


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalise_url(url)
    pool = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
    if url.startswith("sqlite"):
        from app.db.sqlite_driver import dbapi

        engine = create_async_engine(url, module=dbapi(), **pool, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: asyncpg's costs three round trips (BEGIN, ping, ROLLBACK) on every checkout,
    # more than the look-up itself. A connection the server dropped fails one query instead, and
    # SQLAlchemy then replaces every pooled connection at once.
    return create_async_engine(url, **pool, **kwargs)


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = create_engine(self.url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> AsyncSession:
        return self.sessions()

    def reader(self) -> AsyncConnection:
        """A connection for one read-only query, as cheap as the engine allows.

        PostgreSQL: autocommit, so the query is one round trip instead of BEGIN, query,
        ROLLBACK. SQLite's driver opens no transaction for a SELECT and skips the rollback.
        """
        if self.dialect == "postgresql":
            return self._autocommit.connect()
        return self.engine.connect()

    async def dispose(self) -> None:
        await self.engine.dispose()
