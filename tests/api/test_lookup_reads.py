"""A valid ticket look-up reads and nothing else: the throttle's check and the order, one
worker-thread hand-off each on SQLite, no connection check (pre-ping) before them."""

from __future__ import annotations

from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import pytest

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
    counting(asyncpg.Connection, "fetchrow")  # the pool's pre-ping
    return calls


async def test_a_valid_lookup_is_two_reads(api: Api, driver_calls: list[str]) -> None:
    order = api.seeded.orders[3]
    body = {"order_no": order["order_no"], "verification": order["phone"][-4:]}
    assert (await api.post("/api/v1/tickets/lookup", json=body)).status_code == 200
    driver_calls.clear()  # the token is checked and remembered now; connections are open
    assert (await api.post("/api/v1/tickets/lookup", json=body)).status_code == 200
    if api.seeded.url.startswith("sqlite"):
        assert driver_calls == ["_execute", "_execute"]  # throttle check, order
    else:
        assert "fetchrow" not in driver_calls  # no pre-ping
