"""The live PBX routes on an API-only node: roles are checked first; the PBX's channels,
bridges and events need `hotline serve` (503 / close 4503); the queue waits come from the
database and answer anywhere."""

from __future__ import annotations

import warnings

import pytest
from starlette.websockets import WebSocketDisconnect

from app.api.main import create_app
from app.config import Settings
from app.db.session import Database
from tests.api.conftest import Api, Seeded, assert_error

with warnings.catch_warnings():  # Starlette would have httpx2 for its test client; httpx works
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.mark.parametrize("part", ["channels", "bridges", "queues"])
async def test_engineers_and_admins_only(api: Api, part: str) -> None:
    path = f"/api/v1/pbx/{part}"
    assert_error(await api.get(path, role=None), 401, "unauthenticated")
    for role in ("agent", "supervisor", "qa"):
        error = assert_error(await api.get(path, role=role), 403, "forbidden")
        assert error["details"]["admitted_roles"] == ["admin", "engineer"]


async def test_without_a_pbx_channels_and_bridges_are_unavailable(api: Api) -> None:
    for part in ("channels", "bridges"):
        for role in ("engineer", "admin"):
            error = assert_error(await api.get(f"/api/v1/pbx/{part}", role=role), 503,
                                 "unavailable")
            assert "hotline serve" in error["message"]
    resp = await api.get("/api/v1/pbx/queues", role="engineer")
    assert resp.status_code == 200 and resp.json() == []  # nobody waits in the demo data


def _closed(client: TestClient, query: str) -> tuple[int, str]:
    with client.websocket_connect("/api/v1/pbx/events" + query) as ws:
        try:
            ws.receive_json()
        except WebSocketDisconnect as exc:
            return exc.code, str(exc.reason)
    raise AssertionError("the stream was not closed")


def test_the_event_stream_refuses_with_a_reason(seeded: Seeded) -> None:
    db = Database(seeded.url)
    with TestClient(create_app(Settings(), db)) as client:
        tokens = seeded.tokens
        assert _closed(client, "?types=Hangup")[0] == 4401
        assert _closed(client, f"?types=Hangup&token={tokens['supervisor']}")[0] == 4403
        code, reason = _closed(client, f"?types=New+channel&token={tokens['engineer']}")
        assert code == 4400 and "New channel" in reason
        assert _closed(client, f"?types=Hangup&token={tokens['engineer']}")[0] == 4503
        assert _closed(client, f"?token={tokens['admin']}")[0] == 4503
