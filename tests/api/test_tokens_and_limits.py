"""API tokens expire and can be revoked (refused within the token cache's lifetime, <= 5 s);
request bodies over 64 KB are refused with 413 without being read."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.api.main import create_app
from app.config import Settings
from app.core.clock import now
from app.db.models import Role
from app.db.session import Database
from app.services import token_cache
from app.services.auth import create_user, issue_token, revoke_tokens
from app.services.token_cache import TokenCache
from tests.api.conftest import Seeded, assert_error

LOOKUP = "/api/v1/tickets/lookup"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Node:
    app: Any
    client: httpx.AsyncClient
    db: Database
    clock: FakeClock
    seeded: Seeded

    async def lookup(self, token: str) -> httpx.Response:
        order = self.seeded.orders[0]
        return await self.client.post(
            LOOKUP,
            headers={"Authorization": f"Bearer {token}"},
            json={"order_no": order["order_no"], "verification": order["phone"][-4:]},
        )

    async def new_token(self, days: float = 90) -> tuple[str, str]:
        name = "ivr-" + uuid.uuid4().hex[:8]
        async with self.db.session() as session:
            await create_user(session, name, Role.IVR)
            token = await issue_token(session, name, days)
            await session.commit()
        return name, token

    async def revoke(self, name: str) -> int:
        async with self.db.session() as session:
            count = await revoke_tokens(session, name)
            await session.commit()
        return count


@pytest.fixture
async def node(seeded: Seeded) -> AsyncIterator[Node]:
    db = Database(seeded.url)
    app = create_app(Settings(token_cache_seconds=2.0), db)
    clock = FakeClock()
    app.state.token_cache = TokenCache(2.0, clock=clock)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Node(app, client, db, clock, seeded)
    await db.dispose()


async def test_a_revoked_token_is_refused_once_the_cache_lifetime_has_passed(node: Node) -> None:
    name, token = await node.new_token()
    assert (await node.lookup(token)).status_code == 200
    assert await node.revoke(name) == 1
    node.clock.t += 2.0
    body = assert_error(await node.lookup(token), 401, "unauthenticated")
    assert "revoked" in body["message"]


async def test_a_token_is_remembered_at_most_its_lifetime(node: Node) -> None:
    name, token = await node.new_token()
    assert (await node.lookup(token)).status_code == 200
    await node.revoke(name)
    node.clock.t += 1.9  # still remembered: no database query for this request
    assert (await node.lookup(token)).status_code == 200
    node.clock.t += 0.1
    assert_error(await node.lookup(token), 401, "unauthenticated")


async def test_an_expired_token_is_refused_at_once_even_when_remembered(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = await node.new_token(days=1)
    assert (await node.lookup(token)).status_code == 200
    later = now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(token_cache, "now", lambda: later)
    assert_error(await node.lookup(token), 401, "unauthenticated")


async def test_a_new_token_works_immediately(node: Node) -> None:
    _, token = await node.new_token()
    assert_error(await node.lookup(token + "x"), 401, "unauthenticated")
    assert (await node.lookup(token)).status_code == 200


def test_the_cache_lifetime_cannot_exceed_five_seconds() -> None:
    with pytest.raises(ValueError, match=r"0\.\.5"):
        TokenCache(5.5)
    with pytest.raises(ValueError):
        Settings(token_cache_seconds=6)


def _hotline(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


async def test_users_revoke_from_the_command_line(node: Node) -> None:
    name, token = await node.new_token()
    _, other = await node.new_token()
    listed = _hotline(node.seeded.url, "users", "tokens", name)
    assert listed.returncode == 0, listed.stderr
    assert token[:12] in listed.stdout and "active" in listed.stdout
    wrong = _hotline(node.seeded.url, "users", "revoke", name, "--token", "htl_nomatch")
    assert wrong.returncode == 2 and "no unrevoked token" in wrong.stderr
    done = _hotline(node.seeded.url, "users", "revoke", name, "--token", token[:12])
    assert done.returncode == 0, done.stderr
    assert "1 token(s)" in done.stdout
    node.clock.t += 2.0
    assert_error(await node.lookup(token), 401, "unauthenticated")
    assert (await node.lookup(other)).status_code == 200
    assert "revoked" in _hotline(node.seeded.url, "users", "tokens", name).stdout


async def _raw_post(app: Any, body_chunks: int, chunk: bytes,
                    content_length: int | None) -> tuple[int, int, dict[str, Any]]:
    """POST straight into the ASGI app; returns status, chunks the app read, and the body."""
    read = 0
    headers = [(b"host", b"test"), (b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": LOOKUP, "raw_path": LOOKUP.encode(),
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("test", 80), "state": {}}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < body_chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], read, json.loads(body)


async def test_a_body_over_64_kb_is_refused_unread(node: Node) -> None:
    # 20 MB announced: refused before a byte is read.
    status, read, body = await _raw_post(node.app, 320, b"x" * 65536, 20 * 1024 * 1024)
    assert status == 413 and read == 0
    assert body["error"]["code"] == "body_too_large"
    # No length announced (chunked): reading stops just past 64 KB.
    status, read, body = await _raw_post(node.app, 1280, b"x" * 16384, None)
    assert status == 413 and read == 5
    assert body["error"]["code"] == "body_too_large"


async def test_a_body_just_under_the_limit_is_read(node: Node) -> None:
    order = node.seeded.orders[0]
    padded = {"order_no": order["order_no"], "verification": order["phone"][-4:],
              "pad": "x" * (64 * 1024 - 200)}
    _, token = await node.new_token()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    resp = await node.client.post(LOOKUP, headers=headers, content=json.dumps(padded))
    assert resp.status_code == 200, resp.text
    too_big = {**padded, "pad": "x" * (64 * 1024)}
    assert_error(await node.client.post(LOOKUP, headers=headers, content=json.dumps(too_big)),
                 413, "body_too_large")


async def test_requests_waiting_for_one_token_share_its_query(
        node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = await node.new_token()
    queries: list[str] = []
    original = token_cache.find_principal

    async def counted(*args: Any) -> Any:
        queries.append("token")
        return await original(*args)

    monkeypatch.setattr(token_cache, "find_principal", counted)
    answers = await asyncio.gather(*(node.lookup(token) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert queries == ["token"]
    node.clock.t += 2.0  # the entry has aged: one query again for all
    answers = await asyncio.gather(*(node.lookup(token) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert queries == ["token", "token"]


async def test_a_token_forgotten_while_being_looked_up_is_not_remembered(
        node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = await node.new_token()
    cache: TokenCache = node.app.state.token_cache
    queries: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()
    original = token_cache.find_principal

    async def slow(*args: Any) -> Any:
        queries.append("token")
        started.set()
        await release.wait()
        return await original(*args)

    monkeypatch.setattr(token_cache, "find_principal", slow)
    first = asyncio.create_task(cache.principal(node.db, token))
    await started.wait()
    cache.forget(token)  # a logout of this token meanwhile
    release.set()
    await first
    # The answer read before the logout is not kept: the next request asks the database.
    await cache.principal(node.db, token)
    assert queries == ["token", "token"]


async def test_a_token_in_use_is_looked_up_again_before_its_entry_ages_out(
        node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    name, token = await node.new_token()
    cache: TokenCache = node.app.state.token_cache
    queries: list[str] = []
    gate = asyncio.Event()
    gate.set()
    original = token_cache.find_principal

    async def counted(*args: Any) -> Any:
        queries.append("token")
        await gate.wait()
        return await original(*args)

    async def settled() -> None:
        while cache._pending:
            await asyncio.sleep(0.01)

    monkeypatch.setattr(token_cache, "find_principal", counted)
    assert (await node.lookup(token)).status_code == 200
    node.clock.t += 1.0  # half the lifetime: answered from the entry, asked again meanwhile
    assert (await node.lookup(token)).status_code == 200
    await settled()
    assert queries == ["token", "token"]
    node.clock.t += 1.5  # past the first entry's lifetime, within the renewed one's
    gate.clear()  # a query now would not end: the answer must come from the renewed entry
    assert (await asyncio.wait_for(node.lookup(token), 30)).status_code == 200
    gate.set()
    await settled()
    # A revocation found by such a look-up ahead applies from then on.
    await node.revoke(name)
    node.clock.t += 1.1
    assert (await node.lookup(token)).status_code == 200  # still within its entry's lifetime
    await settled()
    assert_error(await node.lookup(token), 401, "unauthenticated")
