"""API tests run against both engines: a migrated, seeded database per module and engine."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.admin.demo_data import seed_demo
from app.api.main import create_app
from app.config import Settings
from app.db import migrate
from app.db.models import Order, Role
from app.db.session import Database
from app.services.auth import create_user, issue_token
from tests.postgres import create_database

TODAY = date(2026, 12, 1)


@dataclass
class Seeded:
    url: str
    tokens: dict[str, str]
    orders: list[dict[str, str]]  # order_no, id_number, phone of some real orders


async def _seed(url: str) -> Seeded:
    db = Database(url)
    tokens: dict[str, str] = {}
    async with db.session() as session:
        await seed_demo(session, orders=300, seed=7, today=TODAY, progress=lambda _: None)
        for role in Role:
            await create_user(session, f"test-{role.value}", role)
            tokens[role.value] = await issue_token(session, f"test-{role.value}")
        rows = await session.scalars(select(Order).order_by(Order.id).limit(20))
        orders = [{"order_no": o.order_no, "id_number": o.id_number, "phone": o.phone}
                  for o in rows]
        await session.commit()
    await db.dispose()
    return Seeded(url, tokens, orders)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'api.db'}"
    else:
        server = request.getfixturevalue("postgres_url")
        url = create_database(server, "api_" + uuid.uuid4().hex[:10])
    migrate.upgrade(url)
    return asyncio.run(_seed(url))


class Api:
    def __init__(self, client: httpx.AsyncClient, seeded: Seeded) -> None:
        self.client = client
        self.seeded = seeded
        self.seen: list[str] = []  # every response body, for the masking checks

    async def request(self, method: str, path: str, role: str | None = None,
                      **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if role is not None:
            headers["Authorization"] = f"Bearer {self.seeded.tokens[role]}"
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        self.seen.append(resp.text)
        return resp

    async def get(self, path: str, role: str | None = "agent", **kw: Any) -> httpx.Response:
        return await self.request("GET", path, role, **kw)

    async def post(self, path: str, role: str | None = "agent", **kw: Any) -> httpx.Response:
        return await self.request("POST", path, role, **kw)


@pytest.fixture
async def api(seeded: Seeded) -> AsyncIterator[Api]:
    settings = Settings(lookup_max_failures=5, lookup_failure_window=600)
    db = Database(seeded.url)
    app = create_app(settings, db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, seeded)
    await db.dispose()


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]
