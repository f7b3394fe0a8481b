"""Order look-ups cannot be brute-forced: failed verifications lock the order number (and the
caller, and the API user) in the database, whatever else a client varies, on every path."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.api.main import create_app
from app.config import Settings
from app.db.models import LookupFailure, Role
from app.db.session import Database
from app.ivr.actions import order_lookup
from app.ivr.context import CallContext
from app.services import throttle as throttle_module
from app.services.auth import create_user, issue_token
from app.services.throttle import LookupThrottle
from tests.api.conftest import Seeded, assert_error

LOOKUP = "/api/v1/tickets/lookup"
N = 5  # failures per order number in the window


def settings(**kw: Any) -> Settings:
    values: dict[str, Any] = {"lookup_max_failures": N, "lookup_caller_max_failures": 10,
                              "lookup_user_max_failures": 1000, "lookup_failure_window": 600}
    return Settings(**(values | kw))


class Client:
    """One app instance over the seeded database, as a client of it."""

    def __init__(self, seeded: Seeded, config: Settings) -> None:
        self.db = Database(seeded.url)
        self.app = create_app(config, self.db)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                      base_url="http://test")

    async def lookup(self, token: str, body: dict[str, Any],
                     headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(LOOKUP, json=body, headers={
            "Authorization": f"Bearer {token}", **(headers or {})})

    async def close(self) -> None:
        await self.http.aclose()
        await self.db.dispose()


@pytest.fixture
async def client(seeded: Seeded) -> AsyncIterator[Client]:
    c = Client(seeded, settings())
    yield c
    await c.close()


async def new_tokens(seeded: Seeded, count: int, role: Role = Role.IVR) -> list[str]:
    """Tokens of fresh users (each test gets its own, so limits per user start empty)."""
    db = Database(seeded.url)
    tokens = []
    async with db.session() as session:
        for _ in range(count):
            name = f"t-{uuid.uuid4().hex[:10]}"
            await create_user(session, name, role)
            tokens.append(await issue_token(session, name))
        await session.commit()
    await db.dispose()
    return tokens


def wrong_codes(order: dict[str, str]) -> list[str]:
    right = {order["id_number"][-4:].upper(), order["phone"][-4:]}
    return [c for c in (f"{n:04d}" for n in range(10000)) if c not in right]


async def failures_stored(seeded: Seeded) -> int:
    db = Database(seeded.url)
    async with db.session() as session:
        count = await session.scalar(select(func.count()).select_from(LookupFailure)) or 0
    await db.dispose()
    return count


async def test_varying_every_client_field_never_gets_more_than_n_tries(
        client: Client, seeded: Seeded) -> None:
    order = seeded.orders[4]
    number = order["order_no"]
    tokens = [*await new_tokens(seeded, 4), *await new_tokens(seeded, 2, Role.AGENT),
              *await new_tokens(seeded, 1, Role.ADMIN)]
    spellings = [number, number[1:], number.lower(), f"E {number[1:4]} {number[4:7]} "
                 f"{number[7:]}", f"{number[1:4]}-{number[4:7]}-{number[7:]}"]
    callers: list[str | None] = [None, *(f"139{n:08d}" for n in range(40))]
    headers = [{}, {"X-Forwarded-For": "10.0.0.7"}, {"User-Agent": "other"},
               {"X-Real-IP": "10.9.9.9", "Forwarded": "for=10.1.1.1"}]
    processed = 0
    codes = wrong_codes(order)
    for i in range(40):
        body: dict[str, Any] = {"order_no": spellings[i % len(spellings)],
                                "verification": codes[i]}
        if (caller := callers[i % len(callers)]) is not None:
            body["caller_number"] = caller
        resp = await client.lookup(tokens[i % len(tokens)], body, headers[i % len(headers)])
        assert resp.status_code in (404, 429), resp.text
        processed += resp.status_code == 404
    assert processed == N
    # Locked: even the right digits are refused, with a clear body and Retry-After.
    right = {"order_no": number, "verification": order["phone"][-4:],
             "caller_number": "13911112222"}
    resp = await client.lookup(tokens[0], right)
    err = assert_error(resp, 429, "too_many_attempts")
    assert err["details"]["locked"] == "order"
    assert "order number" in err["message"] and "try again in" in err["message"]
    assert 0 < int(resp.headers["Retry-After"]) <= 600
    assert err["details"]["retry_after"] == int(resp.headers["Retry-After"])


async def test_parallel_guesses_are_taken_one_at_a_time(client: Client, seeded: Seeded) -> None:
    order = seeded.orders[5]
    tokens = await new_tokens(seeded, 3)
    guesses = [*wrong_codes(order)[:40], order["phone"][-4:]]
    responses = await asyncio.gather(*(
        client.lookup(tokens[i % 3], {"order_no": order["order_no"], "verification": code,
                                      "caller_number": f"137{i:08d}"})
        for i, code in enumerate(guesses)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 404, 429}
    # The right guess was one of 41 sent at once: at most N of them were ever judged.
    assert sum(s in (200, 404) for s in statuses) <= N + (200 in statuses)
    assert statuses.count(404) <= N


async def test_a_lock_survives_a_new_app_instance(seeded: Seeded) -> None:
    order = seeded.orders[6]
    token = (await new_tokens(seeded, 1))[0]
    first = Client(seeded, settings())
    for code in wrong_codes(order)[:N]:
        resp = await first.lookup(token, {"order_no": order["order_no"], "verification": code})
        assert resp.status_code == 404
    await first.close()  # the process ends: nothing in memory survives
    second = Client(seeded, settings())
    try:
        other_token = (await new_tokens(seeded, 1))[0]
        resp = await second.lookup(other_token, {"order_no": order["order_no"],
                                                 "verification": order["phone"][-4:]})
        assert_error(resp, 429, "too_many_attempts")
    finally:
        await second.close()


async def test_the_ivr_and_the_api_count_against_the_same_order(
        client: Client, seeded: Seeded) -> None:
    order = seeded.orders[7]
    token = (await new_tokens(seeded, 1))[0]
    db = Database(seeded.url)
    lookups = LookupThrottle(settings().lookup_policy)
    codes = iter(wrong_codes(order))
    try:
        for n in range(N - 1):  # callers on the phone, one call each
            ctx = CallContext(db=db, voice=None, call_id=f"c{n}",  # type: ignore[arg-type]
                              caller=f"1360000000{n}", throttle=lookups,
                              vars={"order_no": order["order_no"][1:],
                                    "id_last4": next(codes)})
            assert (await order_lookup(ctx)).verification == "failed"
        resp = await client.lookup(token, {"order_no": order["order_no"],
                                           "verification": next(codes)})
        assert resp.status_code == 404
        resp = await client.lookup(token, {"order_no": order["order_no"],
                                           "verification": order["phone"][-4:]})
        assert_error(resp, 429, "too_many_attempts")
        ctx = CallContext(db=db, voice=None, call_id="c9",  # type: ignore[arg-type]
                          caller="13600000009", throttle=lookups,
                          vars={"order_no": order["order_no"][1:],
                                "id_last4": order["phone"][-4:]})
        result = await order_lookup(ctx)
        assert result.verification == "locked" and not result.found
    finally:
        await db.dispose()


async def test_one_caller_trying_many_orders_is_locked(client: Client, seeded: Seeded) -> None:
    token = (await new_tokens(seeded, 1))[0]
    caller = "13522223333"
    numbers = (f"E9{n:08d}" for n in itertools.count())
    for _ in range(10):
        resp = await client.lookup(token, {"order_no": next(numbers), "verification": "1234",
                                           "caller_number": caller})
        assert resp.status_code == 404
    order = seeded.orders[8]
    right = {"order_no": order["order_no"], "verification": order["phone"][-4:]}
    err = assert_error(await client.lookup(token, right | {"caller_number": caller}), 429,
                       "too_many_attempts")
    assert err["details"]["locked"] == "caller"
    assert (await client.lookup(token, right | {"caller_number": "13522224444"})).status_code \
        == 200


async def test_one_api_user_trying_many_orders_is_locked(seeded: Seeded) -> None:
    c = Client(seeded, settings(lookup_user_max_failures=8))
    try:
        token, other = await new_tokens(seeded, 2)
        for n in range(8):
            resp = await c.lookup(token, {"order_no": f"E8{n:08d}", "verification": "1234",
                                          "caller_number": f"133{n:08d}"})
            assert resp.status_code == 404
        order = seeded.orders[9]
        right = {"order_no": order["order_no"], "verification": order["phone"][-4:]}
        err = assert_error(await c.lookup(token, right), 429, "too_many_attempts")
        assert err["details"]["locked"] == "user"
        assert (await c.lookup(other, right)).status_code == 200
    finally:
        await c.close()


async def test_correct_lookups_write_nothing(client: Client, seeded: Seeded) -> None:
    order = seeded.orders[10]
    token = (await new_tokens(seeded, 1))[0]
    before = await failures_stored(seeded)
    for _ in range(5):
        resp = await client.lookup(token, {"order_no": order["order_no"],
                                           "verification": order["phone"][-4:],
                                           "caller_number": "13611110000"})
        assert resp.status_code == 200
    assert await failures_stored(seeded) == before


async def test_the_lock_ends_when_the_window_has_passed(
        client: Client, seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    order = seeded.orders[11]
    token = (await new_tokens(seeded, 1))[0]
    for code in wrong_codes(order)[:N]:
        await client.lookup(token, {"order_no": order["order_no"], "verification": code})
    right = {"order_no": order["order_no"], "verification": order["phone"][-4:]}
    resp = await client.lookup(token, right)
    assert resp.status_code == 429
    later = throttle_module.now() + int(resp.headers["Retry-After"]) + 1
    monkeypatch.setattr(throttle_module, "now", lambda: later)
    assert (await client.lookup(token, right)).status_code == 200
