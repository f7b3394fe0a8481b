"""The SQLite database is private: file 0600 (its -wal and -shm too) in a directory 0700."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db import migrate
from app.db.session import Database, DatabaseLocationError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what a service usually runs with: new files 0644, folders 0755
    yield
    os.umask(old)


async def write_something(url: str) -> None:
    db = Database(url)
    async with db.session() as session:
        await session.execute(text("create table if not exists t (a int)"))
        await session.execute(text("insert into t values (1)"))
        await session.commit()
        folder = Path(url.removeprefix("sqlite:///")).parent
        # While connected: the write-ahead log and shared-memory files exist.
        assert {p.name for p in folder.iterdir()} >= {"hotline.db-wal", "hotline.db-shm"}
        assert {p.name: mode(p) for p in folder.iterdir()} == {
            "hotline.db": 0o600, "hotline.db-wal": 0o600, "hotline.db-shm": 0o600}
    await db.dispose()


def test_a_new_database_is_created_private(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    folder = tmp_path / "state" / "db"
    url = f"sqlite:///{folder / 'hotline.db'}"
    migrate.upgrade(url)  # the first thing `hotline serve` and `hotline db upgrade` do
    assert mode(folder) == 0o700 and mode(folder / "hotline.db") == 0o600
    asyncio.run(write_something(url))


def test_an_existing_open_database_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with sqlite3.connect(folder / "hotline.db") as con:
        con.execute("create table t (a int)")
    (folder / "hotline.db").chmod(0o644)
    asyncio.run(write_something(f"sqlite:///{folder / 'hotline.db'}"))
    assert mode(folder) == 0o700


def test_a_shared_directory_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    common = tmp_path / "common"
    common.mkdir()
    common.chmod(0o1777)  # like /tmp
    with pytest.raises(DatabaseLocationError, match="a directory other users share"):
        Database(f"sqlite:///{common / 'hotline.db'}")
    assert not (common / "hotline.db").exists()
    assert mode(common) == 0o1777
