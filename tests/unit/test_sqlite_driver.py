"""The SQLite driver adapter: one worker-thread hand-off per statement, same results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.db.session import Database


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = Database(f"sqlite:///{tmp_path / 't.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("create table t (id integer primary key, name text unique)"))
    yield database
    await database.dispose()


@pytest.fixture
def handoffs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def test_a_read_is_one_handoff_and_ending_it_none(db: Database, handoffs: list[str]) -> None:
    async with db.session() as session:
        await session.execute(text("select 1"))  # the pool's connection is open now
    handoffs.clear()
    async with db.session() as session:
        assert (await session.execute(text("select 1 + 1"))).scalar() == 2
    assert len(handoffs) == 1, handoffs


async def test_writes_report_rowcount_and_lastrowid_and_roll_back(db: Database) -> None:
    async with db.engine.connect() as conn:
        result = await conn.execute(text("insert into t (name) values ('a')"))
        assert result.lastrowid == 1
        await conn.execute(text("insert into t (name) values (:n)"), [{"n": "b"}, {"n": "c"}])
        await conn.commit()
        updated = await conn.execute(text("update t set name = name || 'x' where id > 1"))
        assert updated.rowcount == 2
        await conn.rollback()
        names = (await conn.execute(text("select name from t order by id"))).scalars().all()
        assert names == ["a", "b", "c"]


async def test_errors_are_sqlalchemy_errors_and_leave_the_connection_usable(db: Database) -> None:
    async with db.engine.connect() as conn:
        await conn.execute(text("insert into t (name) values ('a')"))
        with pytest.raises(IntegrityError):
            await conn.execute(text("insert into t (name) values ('a')"))
        await conn.rollback()
        assert (await conn.execute(text("select count(*) from t"))).scalar() == 0
