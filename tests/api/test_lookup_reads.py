"""The ticket look-up is one query and nothing else: no transaction on PostgreSQL, one
worker-thread hand-off on SQLite, no connection check before it."""

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


async def test_a_lookup_is_one_query(api: Api, driver_calls: list[str]) -> None:
    order = api.seeded.orders[3]
    body = {"order_no": order["order_no"], "verification": order["phone"][-4:]}
    assert (await api.post("/api/v1/tickets/lookup", json=body)).status_code == 200
    driver_calls.clear()  # the token is checked and remembered now; connections are open
    assert (await api.post("/api/v1/tickets/lookup", json=body)).status_code == 200
    if api.seeded.url.startswith("sqlite"):
        assert driver_calls == ["_execute"]
    else:
        assert driver_calls == []
