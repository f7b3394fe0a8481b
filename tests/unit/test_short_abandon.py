"""One short-abandon threshold: HOTLINE_SHORT_ABANDON_SECONDS decides for the wallboard (as the
platform builds it) and for the statistics (as the API reports them) alike; the routing file's
old key is refused with a message that says where the setting went."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from app.acd.records import center_ids
from app.acd.routing import ROUTING_FILE, RoutingError, load_routing, parse_routing
from app.admin.demo_data import seed_centers
from app.api.main import create_app
from app.config import Settings
from app.db import migrate
from app.db.models import CallOutcome, CallRecord, QueueEntry, QueueResult
from app.db.session import Database
from app.pbx.secrets import Credentials
from app.platform import Platform
from app.services.auth import create_user, issue_token
from app.wall.board import center_day, day_start

WAIT = 3.0  # the caller hung up after 3 s in the queue


async def _database(tmp_path: Path) -> tuple[Database, str]:
    url = f"sqlite:///{tmp_path / 'short.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    today = center_day(time.time())
    entered = day_start(today).astimezone(UTC) + timedelta(seconds=1)
    async with db.session() as session:
        await seed_centers(session)
        await create_user(session, "short-supervisor", "supervisor")
        await session.commit()
    ids = await center_ids(db)
    async with db.session() as session:
        session.add(CallRecord(id="c-short", caller="13800138000", called="12306",
                               started_at=entered, ended_at=entered + timedelta(seconds=WAIT),
                               outcome=CallOutcome.ABANDONED, language="zh", priority=False))
        await session.flush()
        session.add(QueueEntry(call_id="c-short", queue="general", reason="menu",
                               entered_at=entered, left_at=entered + timedelta(seconds=WAIT),
                               result=QueueResult.ABANDONED, wait_seconds=WAIT,
                               center_id=ids["北京"]))
        token = await issue_token(session, "short-supervisor")
        await session.commit()
    return db, token


async def _wallboard(settings: Settings, db: Database) -> dict[str, Any]:
    """The 北京 tile of the wallboard the platform builds with these settings, seeded from the
    database as `serve` does at start."""
    async def no_calls(_: Any) -> None:
        return None

    acd = SimpleNamespace(db=db, rules=load_routing())
    platform = Platform(settings, Credentials("ari", "ami"), no_calls, acd=acd)  # type: ignore[arg-type]
    assert platform.wall is not None
    await platform.wall.start()
    try:
        snapshot = platform.wall.board.snapshot()
    finally:
        await platform.wall.stop()
    [tile] = [c for c in snapshot["centers"] if c["key"] == "北京"]
    return {"threshold": snapshot["short_abandon_seconds"], "abandoned": tile["abandoned"],
            "short_abandoned": tile["short_abandoned"]}


async def _statistics(settings: Settings, db: Database, token: str) -> dict[str, Any]:
    today = center_day(time.time()).isoformat()
    transport = httpx.ASGITransport(app=create_app(settings, db))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        resp = await client.get("/api/v1/stats", params={"from": today, "to": today},
                                headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return {"threshold": body["short_abandon_s"], "abandoned": body["totals"]["abandoned"],
            "short_abandoned": body["totals"]["short_abandoned"]}


@pytest.mark.parametrize("seconds, abandoned, short", [("2", 1, 0), ("5", 0, 1)])
async def test_the_wallboard_and_the_statistics_share_the_threshold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: str, abandoned: int,
        short: int) -> None:
    monkeypatch.setenv("HOTLINE_SHORT_ABANDON_SECONDS", seconds)
    settings = Settings()
    db, token = await _database(tmp_path)
    try:
        expected = {"threshold": float(seconds), "abandoned": abandoned,
                    "short_abandoned": short}
        assert await _wallboard(settings, db) == expected
        assert await _statistics(settings, db, token) == expected
    finally:
        await db.dispose()


def test_the_old_routing_key_is_refused_with_where_it_went() -> None:
    text = ROUTING_FILE.read_text(encoding="utf-8").replace(
        "wallboard:\n", "wallboard:\n  short_abandon_seconds: 5\n")
    line = text.splitlines().index("  short_abandon_seconds: 5") + 1
    with pytest.raises(RoutingError) as caught:
        parse_routing(text, "routing.yaml")
    [problem] = caught.value.problems
    assert problem.line == line
    assert "wallboard.short_abandon_seconds" in problem.message
    assert "HOTLINE_SHORT_ABANDON_SECONDS" in problem.message
