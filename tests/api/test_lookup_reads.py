"""A valid ticket look-up reads and nothing else, on the driver's own connection: the throttle's
check and the order in one statement (on SQLite one worker-thread hand-off); on PostgreSQL
between taking and releasing the order's advisory lock, with no transaction around them."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import pytest

from app.services import throttle as throttle_module
from tests.api.conftest import Api


@pytest.fixture
def driver_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def counting(cls: Any, name: str) -> None:
        original = getattr(cls, name)

        async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return await original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, counted)

    counting(aiosqlite.Connection, "_execute")  # every hand-off to SQLite's worker thread
    counting(asyncpg.transaction.Transaction, "start")  # BEGIN on PostgreSQL
    counting(asyncpg.Connection, "fetch")  # a statement on PostgreSQL
    counting(asyncpg.Connection, "fetchrow")  # a pool's pre-ping
    return calls


async def test_a_valid_lookup_is_reads_only(api: Api, driver_calls: list[str]) -> None:
    order = api.seeded.orders[3]
    body = {"order_no": order["order_no"], "verification": order["phone"][-4:]}
    assert (await api.post("/api/v1/tickets/lookup", json=body)).status_code == 200
    driver_calls.clear()  # the token is checked and remembered now; connections are open
    assert (await api.post("/api/v1/tickets/lookup", json=body)).status_code == 200
    if api.seeded.url.startswith("sqlite"):
        assert driver_calls == ["_execute"]  # throttle check and order, together
    else:
        # Lock; check and order, releasing the lock of a success in the same statement.
        assert driver_calls == ["fetch", "fetch"]


async def _advisory_locks(conn: Any, granted: bool) -> int:
    count: int = await conn.fetchval(
        "select count(*) from pg_locks where locktype = 'advisory' and granted = $1", granted)
    return count


async def test_a_lookup_waits_while_another_attempt_holds_the_order(api: Api) -> None:
    order = api.seeded.orders[12]
    number = order["order_no"]
    body = {"order_no": number, "verification": order["phone"][-4:]}
    if api.seeded.url.startswith("sqlite"):
        # One process per SQLite file: the attempt in progress holds this process's lock.
        async with throttle_module._ORDERS.hold(number):
            lookup = asyncio.create_task(api.post("/api/v1/tickets/lookup", json=body))
            while throttle_module._ORDERS._locks[number][1] < 2:  # holder + waiter
                assert not lookup.done(), (await lookup).text  # it must wait, not answer
                await asyncio.sleep(0.02)
        assert (await lookup).status_code == 200
        assert number not in throttle_module._ORDERS._locks
        return
    other = await asyncpg.connect(api.seeded.url)  # another instance judging this order
    try:
        await other.execute("select pg_advisory_lock(hashtext($1))", f"order:{number}")
        lookup = asyncio.create_task(api.post("/api/v1/tickets/lookup", json=body))
        while await _advisory_locks(other, granted=False) == 0:
            assert not lookup.done(), (await lookup).text  # it must wait, not answer
            await asyncio.sleep(0.02)
        await other.execute("select pg_advisory_unlock_all()")
        assert (await lookup).status_code == 200
        assert await _advisory_locks(other, granted=True) == 0  # released by the look-up
        # A failure is stored under the lock, then the lock is released too.
        wrong = body | {"verification": "0000" if body["verification"] != "0000" else "1111"}
        assert (await api.post("/api/v1/tickets/lookup", json=wrong)).status_code == 404
        assert await _advisory_locks(other, granted=True) == 0
    finally:
        await other.close()
