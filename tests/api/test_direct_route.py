"""The ticket look-up is served without FastAPI's generic request handling, and answers every
request exactly as FastAPI's own handler would: same status, headers that matter and body, for
valid look-ups and for every kind of bad request (token, role, content type, JSON, fields)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import dependencies
from fastapi.routing import APIRoute

from app.api.direct_route import DirectJsonRoute
from app.api.errors import ApiError
from app.api.main import create_app
from app.api.routes.lookups import Passenger
from app.config import Settings
from app.db.session import Database
from tests.api.conftest import Seeded

LOOKUP = "/api/v1/tickets/lookup"


class Node:
    def __init__(self, seeded: Seeded) -> None:
        self.seeded = seeded
        self.db = Database(seeded.url)
        # Generous limits: the same wrong guesses are sent to both apps.
        self.app = create_app(Settings(lookup_max_failures=1000,
                                       lookup_caller_max_failures=1000,
                                       lookup_user_max_failures=100000), self.db)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                      base_url="http://test")

    async def send(self, role: str | None, content: bytes, content_type: str | None,
                   token: str | None = None) -> tuple[int, str | None, Any]:
        headers = {}
        if role is not None:
            headers["Authorization"] = f"Bearer {token or self.seeded.tokens[role]}"
        if content_type is not None:
            headers["Content-Type"] = content_type
        resp = await self.http.post(LOOKUP, content=content, headers=headers)
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        return resp.status_code, resp.headers.get("www-authenticate"), body

    async def close(self) -> None:
        await self.http.aclose()
        await self.db.dispose()


@pytest.fixture
async def direct(seeded: Seeded) -> AsyncIterator[Node]:
    node = Node(seeded)
    yield node
    await node.close()


@pytest.fixture
async def generic(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Node]:
    """The same app with the look-up served by FastAPI's own handler."""
    monkeypatch.setattr(DirectJsonRoute, "get_route_handler", APIRoute.get_route_handler)
    node = Node(seeded)
    yield node
    await node.close()


def requests(seeded: Seeded) -> list[tuple[str | None, bytes, str | None, str | None]]:
    """(role, body, content type, token) of valid and invalid look-ups."""
    order = seeded.orders[13]
    right = {"order_no": order["order_no"], "verification": order["phone"][-4:]}
    good = json.dumps(right).encode()
    bad_field = json.dumps({"order_no": "E1", "verification": "12a4"}).encode()
    wrong = json.dumps(right | {"verification": "0000" if right["verification"] != "0000"
                                else "1111"}).encode()
    return [
        ("ivr", good, "application/json", None),
        ("agent", good, "application/json; charset=utf-8", None),
        ("admin", json.dumps(right | {"caller_number": "13800138000"}).encode(),
         "Application/JSON", None),
        ("agent", wrong, "application/json", None),
        ("agent", json.dumps(right | {"order_no": "X1"}).encode(), "application/json", None),
        (None, good, "application/json", None),  # no token
        ("ivr", good, "application/json", "htl_unknown"),  # unknown token
        ("qa", good, "application/json", None),  # a role the route does not admit
        (None, bad_field, "application/json", None),  # 401 before 422
        ("qa", bad_field, "application/json", None),  # 403 before 422
        ("ivr", bad_field, "application/json", None),
        ("ivr", b"{not json", "application/json", None),
        (None, b"{not json", "application/json", None),  # 422 before 401
        ("ivr", b"\xff\xfe", "application/json", None),  # not text
        ("ivr", b"", "application/json", None),
        ("ivr", b"[1, 2]", "application/json", None),
        ("ivr", b"null", "application/json", None),
        ("ivr", good, "text/plain", None),
        ("ivr", good, None, None),
        ("ivr", good, "application/problem+json", None),
        ("ivr", json.dumps(right | {"extra": 1}).encode(), "application/json", None),
    ]


async def test_every_answer_is_fastapis(direct: Node, generic: Node, seeded: Seeded) -> None:
    for role, content, content_type, token in requests(seeded):
        got = await direct.send(role, content, content_type, token)
        expected = await generic.send(role, content, content_type, token)
        assert got == expected, (role, content, content_type)


async def test_a_valid_lookup_skips_fastapis_dependency_solving(
        direct: Node, seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    solved: list[str] = []
    original = dependencies.utils.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        solved.append("solve")
        return await original(*args, **kwargs)

    monkeypatch.setattr("fastapi.routing.solve_dependencies", counting)
    role, content, content_type, _ = requests(seeded)[0]
    status, _, _ = await direct.send(role, content, content_type)
    assert status == 200 and solved == []
    # A body that does not validate is FastAPI's to answer.
    status, _, _ = await direct.send("ivr", b'{"order_no": "E1"}', "application/json")
    assert status == 422 and solved == ["solve"]


async def test_dependency_overrides_are_honoured(direct: Node, seeded: Seeded) -> None:
    role, content, content_type, _ = requests(seeded)[0]
    check = Passenger.__metadata__[0].dependency  # the route's role check

    async def refuse() -> None:
        raise ApiError(403, "forbidden", "overridden")

    direct.app.dependency_overrides[check] = refuse  # as a test of another route might
    status, _, body = await direct.send(role, content, content_type)
    assert status == 403 and body["error"]["message"] == "overridden"
