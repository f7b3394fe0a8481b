"""The raw pool of the busiest statements (app.db.raw) serves waiting borrowers first come,
first served: a connection given back goes to the one waiting longest, never to a newcomer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import literal, select

from app.db.session import Database


async def test_waiting_borrowers_are_served_in_order(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pool.db'}")
    pool = db.raw
    pool.size = 1
    served: list[str] = []

    async def borrow(name: str) -> None:
        conn = await pool.acquire()
        served.append(name)
        await asyncio.sleep(0)
        pool.release(conn)

    try:
        first = await pool.acquire()
        waiting = [asyncio.create_task(borrow(name)) for name in "abc"]
        while len(pool._waiters) < 3:
            await asyncio.sleep(0.01)
        pool.release(first)
        await borrow("late")  # asks at once, before the woken "a" has run
        await asyncio.gather(*waiting)
        assert served == ["a", "b", "c", "late"]
    finally:
        await db.dispose()


async def test_a_borrower_that_gives_up_passes_its_turn_on(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pool.db'}")
    pool = db.raw
    pool.size = 1
    try:
        first = await pool.acquire()
        quitter = asyncio.create_task(pool.acquire())
        patient = asyncio.create_task(pool.acquire())
        while len(pool._waiters) < 2:
            await asyncio.sleep(0.01)
        pool.release(first)  # handed to the quitter, who is cancelled before it runs
        quitter.cancel()
        conn = await asyncio.wait_for(patient, 30)
        pool.release(conn)
    finally:
        await db.dispose()


async def test_sqlite_reads_share_one_connection(tmp_path: Path) -> None:
    # One connection is one thread: many concurrent look-ups queue on it instead of waking a
    # thread each.
    db = Database(f"sqlite:///{tmp_path / 'pool.db'}")
    pool = db.raw
    statement = pool.compile(select(literal(1)))

    async def read() -> None:
        async with pool.connection() as conn:
            await conn.fetch((statement, {}))

    try:
        await asyncio.gather(*(read() for _ in range(20)))
        assert len(pool._all) == 1
    finally:
        await db.dispose()
