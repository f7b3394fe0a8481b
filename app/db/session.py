"""Database engines and sessions: SQLite (WAL) by default, PostgreSQL via HOTLINE_DATABASE_URL."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.db.raw import RAW_POOL_SIZE, RawPool, sqlite_pragmas
from app.db.sqlite_driver import WriteWatch


def normalise_url(url: str) -> str:
    """Accept plain sqlite:/// and postgresql:// URLs and pick the async drivers."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


# Connections kept open. A connection beyond the pool is closed again when returned, and opening
# one is costly (a thread and four pragmas for SQLite, a server process for PostgreSQL), so the
# pool covers the API's usual concurrency and overflow is only for bursts.
POOL_SIZE = 20
MAX_OVERFLOW = 10


class DatabaseLocationError(RuntimeError):
    """The SQLite file cannot be kept private where it was put."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other engines and in-memory databases."""
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def keep_private(path: Path) -> None:
    """Passengers' data is readable by this user only: the database file 0600 in a directory
    0700. SQLite creates its -wal and -shm files with the database file's mode."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.stat()
    if stat.S_IMODE(info.st_mode) & 0o077:
        if info.st_mode & stat.S_ISVTX or info.st_uid != os.geteuid():
            raise DatabaseLocationError(
                f"the SQLite database {path} would sit in {folder}, a directory other users "
                f"share (mode {stat.S_IMODE(info.st_mode):o}); put it in a directory of its "
                "own (HOTLINE_STATE_DIR, or the path in HOTLINE_DATABASE_URL)"
            )
        folder.chmod(0o700)
    # Never open and close an existing database file here: closing any descriptor of a file
    # drops every POSIX lock this process holds on it, those of its open SQLite connections
    # included, and other processes then read an old snapshot. Only a new file is made.
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # an empty file is a new database
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    for file in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if file.exists() and stat.S_IMODE(file.stat().st_mode) & 0o077:
            file.chmod(0o600)


def create_engine(url: str, slow_write_seconds: float = 0.0, **kwargs: Any) -> AsyncEngine:
    """`slow_write_seconds` (SQLite): log write transactions holding the write lock this long
    or longer, with the code that took it; 0: not watched."""
    url = normalise_url(url)
    pool = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
    if url.startswith("sqlite"):
        if (path := sqlite_file(url)) is not None:
            keep_private(path)
        from app.db.sqlite_driver import dbapi

        watch = WriteWatch(slow_write_seconds)
        engine = create_async_engine(url, module=dbapi(watch), **pool, **kwargs)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    # No pre-ping: asyncpg's costs three round trips (BEGIN, ping, ROLLBACK) on every checkout,
    # more than the look-up itself. A connection the server dropped fails one query instead, and
    # SQLAlchemy then replaces every pooled connection at once.
    return create_async_engine(url, **pool, **kwargs)


class Database:
    def __init__(self, url: str, slow_write_seconds: float = 0.0) -> None:
        self.url = normalise_url(url)
        self.engine = create_engine(self.url, slow_write_seconds)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: what reports write transactions holding the write lock long (None: other
        # engines, whose writers lock rows, not the whole database).
        self.write_watch: WriteWatch | None = getattr(self.engine.dialect.loaded_dbapi,
                                                      "watch", None)
        dialect = self.engine.dialect
        # The busiest statements skip SQLAlchemy (app.db.raw); opened on first use. SQLite's
        # pool is one connection: each is a thread of its own, and statements queued on one
        # thread run back to back, while several threads spend more on waking each other and
        # passing the interpreter lock than on the reads (1,690 vs 1,210 look-ups/s with 8).
        size = RAW_POOL_SIZE if dialect.name == "postgresql" else 1
        self.raw = RawPool(dialect, dialect.create_connect_args(self.engine.url), size)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> AsyncSession:
        return self.sessions()

    async def dispose(self) -> None:
        await self.raw.close()
        await self.engine.dispose()
