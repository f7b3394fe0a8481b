"""The wallboard's figures: events in, figures out, exact; the broadcaster coalesces bursts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.acd.agents import create_agent, get_agent
from app.acd.records import center_ids
from app.acd.routing import ROUTING_FILE, load_routing
from app.acd.states import set_state
from app.acd.waiting import AgentConnected, AgentRinging
from app.admin.demo_data import seed_centers
from app.core.clock import CST
from app.db import migrate
from app.db.models import CallRecord, QueueEntry, QueueResult
from app.db.session import Database
from app.events import (
    AgentMonitored,
    AgentStateChanged,
    EventFeed,
    PlatformEvent,
    QueueJoined,
    QueueLeft,
)
from app.wall.board import AgentRow, Board, Ended, center_day
from app.wall.live import CLIENT_BACKLOG, CLOSED, Wall
from app.wall.monitor import ENDPOINT, MonitorError, Monitors
from app.wall.seed import agent_rows, finished_today

RULES = load_routing()
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=CST).timestamp()


def joined(call: str, at: float, center: str = "北京", queue: str = "general") -> QueueJoined:
    return QueueJoined(call_id=call, queue=queue, center=center, at=at)


def left(call: str, result: str, wait: float | None, at: float) -> QueueLeft:
    return QueueLeft(call_id=call, queue="general", result=result, wait_seconds=wait, at=at,
                     center="北京")


def connected(call: str, wait: float, at: float, overflow_from: str | None = None
              ) -> AgentConnected:
    return AgentConnected(call_id=call, agent="1001", queue="general", wait_seconds=wait,
                          overflow_from=overflow_from, at=at)


def board() -> Board:
    b = Board(RULES, short_abandon=5, day=center_day(T0))
    b.seed([], [AgentRow("1001", "坐席1001", "北京", "ready", None, T0)])
    return b


SCENARIO: list[PlatformEvent] = [
    joined("c1", T0), connected("c1", 10, T0 + 10),  # answered within T (20 s)
    joined("c2", T0), connected("c2", 30, T0 + 30),  # answered after T
    joined("c3", T0), left("c3", "abandoned", 3, T0 + 3),  # short abandon
    joined("c4", T0), left("c4", "abandoned", 25, T0 + 25),  # abandoned after T
    joined("c5", T0), left("c5", "abandoned", 12, T0 + 12),  # abandoned within T
    joined("c6", T0), left("c6", "callback", 40, T0 + 40),
    joined("c7", T0), left("c7", "ended_by_platform", None, T0 + 50),
    # 上海's caller answered by the 北京 agent after overflow.
    joined("c8", T0, center="上海"), connected("c8", 35, T0 + 35, overflow_from="上海"),
    joined("c9", T0 + 100),  # still waiting
    joined("c10", T0 + 90, center="上海", queue="ticket"),  # still waiting
    left("c1", "connected", 10, T0 + 120),  # the talk ended: counted at the answer already
]


def figures(tile: dict[str, Any]) -> dict[str, Any]:
    keys = ("waiting", "longest_wait_s", "offered", "answered", "abandoned", "short_abandoned",
            "callbacks", "other", "platform_ended", "answered_in_t", "abandoned_after_t",
            "overflow_in", "overflow_out", "answer_rate", "service_level", "level")
    return {k: tile[k] for k in keys}


def test_events_in_give_exact_figures_per_queue_and_center() -> None:
    b = board()
    for event in SCENARIO:
        b.apply(event)
    tiles = b.tiles(now=T0 + 130)
    queues = {t["key"]: t for t in tiles["queues"]}
    centers = {t["key"]: t for t in tiles["centers"]}
    assert figures(queues["general"]) == {
        "waiting": 1, "longest_wait_s": 30.0, "offered": 6, "answered": 3, "abandoned": 2,
        "short_abandoned": 1, "callbacks": 1, "other": 0, "platform_ended": 1,
        "answered_in_t": 1, "abandoned_after_t": 1, "overflow_in": 0, "overflow_out": 1,
        "answer_rate": 0.5, "service_level": 0.25, "level": "alert"}
    assert queues["general"]["levels"] == {"waiting": "ok", "longest_wait": "warn",
                                           "service_level": "alert", "answer_rate": "alert"}
    assert figures(queues["ticket"]) == {
        "waiting": 1, "longest_wait_s": 40.0, "offered": 0, "answered": 0, "abandoned": 0,
        "short_abandoned": 0, "callbacks": 0, "other": 0, "platform_ended": 0,
        "answered_in_t": 0, "abandoned_after_t": 0, "overflow_in": 0, "overflow_out": 0,
        "answer_rate": None, "service_level": None, "level": "warn"}
    assert figures(centers["北京"]) == {
        "waiting": 1, "longest_wait_s": 30.0, "offered": 5, "answered": 2, "abandoned": 2,
        "short_abandoned": 1, "callbacks": 1, "other": 0, "platform_ended": 1,
        "answered_in_t": 1, "abandoned_after_t": 1, "overflow_in": 1, "overflow_out": 0,
        "answer_rate": 0.4, "service_level": 0.3333, "level": "alert"}
    assert figures(centers["上海"]) == {
        "waiting": 1, "longest_wait_s": 40.0, "offered": 1, "answered": 1, "abandoned": 0,
        "short_abandoned": 0, "callbacks": 0, "other": 0, "platform_ended": 0,
        "answered_in_t": 0, "abandoned_after_t": 0, "overflow_in": 0, "overflow_out": 1,
        "answer_rate": 1.0, "service_level": 0.0, "level": "alert"}
    assert figures(centers["太原"])["offered"] == 0 and centers["太原"]["level"] == "ok"
    assert centers["北京"]["agents"] == {"ready": 1}
    # Every queue of the routing file has a tile, even without calls.
    assert [t["key"] for t in tiles["queues"]] == list(RULES.queues)


def test_the_database_seed_counts_like_the_events() -> None:
    live = board()
    for event in SCENARIO:
        live.apply(event)
    seeded = board()
    seeded.seed([
        Ended("general", "北京", "connected", 10), Ended("general", "北京", "connected", 30),
        Ended("general", "北京", "abandoned", 3), Ended("general", "北京", "abandoned", 25),
        Ended("general", "北京", "abandoned", 12), Ended("general", "北京", "callback", 40),
        Ended("general", "北京", "ended_by_platform", None),
        Ended("general", "上海", "connected", 35, overflow_to="北京"),
    ], [])
    assert seeded.queues["general"] == live.queues["general"]
    assert seeded.centers == live.centers


def test_a_new_center_day_starts_the_counts_at_zero_and_keeps_the_waiting() -> None:
    b = board()
    for event in SCENARIO:
        b.apply(event)
    midnight = datetime(2026, 12, 1, 0, 0, 5, tzinfo=CST).timestamp()
    b.apply(joined("c11", midnight))
    general = {t["key"]: t for t in b.tiles(now=midnight)["queues"]}["general"]
    assert (general["offered"], general["answered"], general["waiting"]) == (0, 0, 2)
    assert b.day.isoformat() == "2026-12-01"


def test_the_agents_grid_follows_states_calls_and_monitoring() -> None:
    b = board()
    b.snapshot()
    b.apply(AgentStateChanged(agent="1001", state="ringing", call_id="c1", at=T0 + 1))
    b.apply(AgentRinging(call_id="c1", agent="1001", queue="general", skill="ticket",
                         caller="138****8000", context={}, at=T0 + 1))
    b.apply(AgentStateChanged(agent="1001", state="on_call", call_id="c1", at=T0 + 5))
    b.apply(AgentMonitored(call_id="c1", agent="1001", mode="whisper", supervisor="lead",
                           active=True, at=T0 + 6))
    [row] = b.delta(now=T0 + 7)["agents"]
    assert row == {"number": "1001", "name": "坐席1001", "center": "北京", "state": "on_call",
                   "reason": None, "since": T0 + 5, "call_id": "c1", "queue": "general",
                   "monitored": {"mode": "whisper", "by": "lead"}}
    assert b.delta(now=T0 + 8)["agents"] == []  # nothing changed since
    b.apply(AgentMonitored(call_id="c1", agent="1001", mode="whisper", supervisor="lead",
                           active=False, at=T0 + 9))
    b.apply(AgentStateChanged(agent="1001", state="wrap_up", call_id="c1", at=T0 + 10))
    b.apply(AgentStateChanged(agent="1001", state="paused", reason="用餐", at=T0 + 20))
    [row] = b.delta(now=T0 + 21)["agents"]
    assert (row["state"], row["reason"], row["since"], row["call_id"], row["monitored"]) == (
        "paused", "用餐", T0 + 20, None, None)
    # An agent the board did not know yet gets a row of its own.
    b.apply(AgentStateChanged(agent="1077", state="ready", at=T0 + 30))
    assert b.agents["1077"].state == "ready" and b.agents["1077"].center == "?"


def test_an_update_carries_only_the_tiles_whose_figures_changed() -> None:
    b = board()
    first = b.delta(now=T0)
    assert len(first["queues"]) == len(RULES.queues) and len(first["centers"]) == 3
    b.apply(joined("d1", T0 + 1, center="上海", queue="ticket"))
    second = b.delta(now=T0 + 2)
    assert [t["key"] for t in second["queues"]] == ["ticket"]
    assert [t["key"] for t in second["centers"]] == ["上海"]
    # The longest wait grows without an event: no update for it.
    assert b.delta(now=T0 + 50)["queues"] == []


def test_a_repeated_state_is_no_change() -> None:
    b = board()
    assert not b.apply(AgentStateChanged(agent="1001", state="ready", at=T0 + 1))


@pytest.mark.parametrize(("waiting", "expected"), [(0, "ok"), (4, "ok"), (5, "warn"),
                                                   (9, "warn"), (10, "alert")])
def test_waiting_callers_colour_the_tile_at_the_configured_thresholds(
        waiting: int, expected: str) -> None:
    b = board()
    for i in range(waiting):
        b.apply(joined(f"w{i}", T0 + 100))
    general = {t["key"]: t for t in b.tiles(now=T0 + 100)["queues"]}["general"]
    assert general["levels"]["waiting"] == expected


def test_thresholds_in_the_wrong_order_are_refused() -> None:
    from app.acd.routing import RoutingError, parse_routing

    text = ROUTING_FILE.read_text().replace("service_level: {warn: 0.8, alert: 0.6}",
                              "service_level: {warn: 0.6, alert: 0.8}")
    with pytest.raises(RoutingError, match="alert at most warn"):
        parse_routing(text)


async def test_a_burst_of_events_reaches_every_screen_as_one_update() -> None:
    feed = EventFeed()
    wall = Wall(db=None, rules=RULES, events=feed, short_abandon=5, push_every=0.05)  # type: ignore[arg-type]
    wall.board.seed([], [AgentRow("1001", "坐席1001", "北京")])
    wall.follow()
    screens = [wall.connect() for _ in range(3)]
    try:
        for i in range(30):  # one burst: published before the broadcaster runs
            feed.publish(joined(f"b{i}", T0))
        first = [json.loads(await asyncio.wait_for(s.next(), 5) or "{}") for s in screens]
        assert all(m == first[0] for m in first)
        general = {t["key"]: t for t in first[0]["queues"]}["general"]
        assert general["waiting"] == 30 and len(first[0]["sources"]) == 30
        assert first[0]["kind"] == "wall.update" and wall.pushes == 1
        feed.publish(left("b0", "abandoned", 9, T0 + 9))
        second = json.loads(await asyncio.wait_for(screens[0].next(), 5) or "{}")
        general = {t["key"]: t for t in second["queues"]}["general"]
        assert (general["waiting"], general["abandoned"]) == (29, 1)
        assert second["seq"] == first[0]["seq"] + 1 and wall.pushes == 2
    finally:
        await wall.stop()
    assert feed.subscribers == 0


def test_a_screen_that_falls_behind_gets_a_snapshot_instead_of_the_backlog() -> None:
    feed = EventFeed()
    wall = Wall(db=None, rules=RULES, events=feed, short_abandon=5)  # type: ignore[arg-type]
    screen = wall.connect()
    for i in range(CLIENT_BACKLOG + 3):
        screen.offer(f"update {i}")
    assert screen.outbox.qsize() == 3 and screen.resyncs == 1
    assert screen.outbox.get_nowait() is None  # None: send a full snapshot
    screen.offer("update")
    screen.close()  # gone: its sender stops at once, nothing queued is sent
    assert screen.outbox.qsize() == 1 and screen.outbox.get_nowait() == CLOSED


@pytest.mark.parametrize(("endpoint", "ok"), [
    ("PJSIP/agent-1009", True), ("PJSIP/sup_desk.2", True), ("SIP/1009", False),
    ("PJSIP/a b", False), ("PJSIP/x&y", False), ("", False)])
def test_only_pjsip_endpoints_can_be_rung_for_listening(endpoint: str, ok: bool) -> None:
    assert bool(ENDPOINT.match(endpoint)) is ok


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'wall.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    async with database.session() as session:
        await seed_centers(session)
        await create_agent(session, "1001", name="坐席1001", center="北京",
                           skills={"ticket": 5}, password="password-1")
        await set_state(session, await get_agent(session, "1001"), "ready", by="system")
        await session.commit()
    yield database
    await database.dispose()


def cst(day: int, hour: int, minute: int = 0) -> datetime:
    """A center's time, stored (like every time) in UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=CST).astimezone(UTC)


async def test_the_seed_reads_todays_finished_waits_in_the_centers_day(db: Database) -> None:
    ids = await center_ids(db)
    rows = [  # (entered, left, result, wait, answered, center, overflow to)
        (cst(30, 10), cst(30, 10, 1), QueueResult.CONNECTED, 10.0, True, "北京", None),
        (cst(29, 23, 58), cst(29, 23, 59), QueueResult.CONNECTED, 60.0, True, "北京", None),
        (cst(30, 0, 0), cst(30, 0, 1), QueueResult.ABANDONED, 25.0, False, "北京", None),
        (cst(30, 11), None, None, None, False, "北京", None),  # still waiting
        (cst(30, 12), cst(30, 12, 1), QueueResult.CONNECTED, 35.0, True, "上海", "北京"),
        (cst(30, 13), cst(30, 13, 1), QueueResult.PBX_RESTART, None, False, "太原", None),
    ]
    async with db.session() as session:
        for i, (entered, gone, result, wait, answered, center, to) in enumerate(rows):
            session.add(CallRecord(id=f"c{i}", caller="13800138000", called="12306",
                                   started_at=entered))
            await session.flush()
            session.add(QueueEntry(
                call_id=f"c{i}", queue="general", reason="test", entered_at=entered,
                left_at=gone, result=result, wait_seconds=wait, center_id=ids[center],
                answered_at=gone if answered else None,
                overflow_from_center_id=ids[center] if to else None,
                overflow_to_center_id=ids[to] if to else None))
        await session.commit()
    assert await finished_today(db, center_day(cst(30, 15).timestamp())) == [
        Ended("general", "北京", "connected", 10.0),
        Ended("general", "北京", "abandoned", 25.0),
        Ended("general", "上海", "connected", 35.0, overflow_to="北京"),
        Ended("general", "太原", "pbx_restart", None),
    ]
    [row] = await agent_rows(db)
    assert (row.number, row.name, row.center, row.state) == ("1001", "坐席1001", "北京", "ready")


async def test_listening_in_needs_an_agent_on_a_call(db: Database) -> None:
    monitors = Monitors(db, EventFeed(), "hotline", rest=lambda: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(MonitorError) as refused:
        await monitors.start("1001", "listen", "PJSIP/agent-1009", "lead")
    assert (refused.value.status, refused.value.code) == (409, "not_on_call")
    with pytest.raises(MonitorError, match="is not a PJSIP endpoint"):
        await monitors.start("1001", "listen", "Local/1009@ctx", "lead")
    with pytest.raises(MonitorError, match="mode must be one of listen, whisper, barge"):
        await monitors.start("1001", "spy", "PJSIP/agent-1009", "lead")
