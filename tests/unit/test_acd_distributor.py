"""The distributor over a real SQLite database: offers, retries, recovery (no PBX)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.acd.agents import create_agent, get_agent
from app.acd.distributor import AgentOffered, Distributor
from app.acd.recovery import close_left_behind
from app.acd.routing import load_routing
from app.acd.selection import WaitingCall
from app.acd.states import agent_snapshot, set_state
from app.admin.demo_data import seed_centers
from app.core.calltrace import CallTrace, EndedBy
from app.core.clock import now
from app.db import migrate
from app.db.models import (
    Agent,
    AgentLeg,
    AgentLegResult,
    AgentStateEvent,
    AgentStateName,
    CallOutcome,
    CallRecord,
    QueueEntry,
    QueueResult,
)
from app.db.session import Database
from app.events import AgentStateChanged, EventFeed
from app.services import call_records


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'acd.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    async with database.session() as session:
        await seed_centers(session)
        for number, level in (("1001", 3), ("1002", 9)):
            await create_agent(session, number, name=f"a{number}", center="北京",
                               skills={"ticket": level}, password="password-1")
            await set_state(session, await get_agent(session, number), "ready", by="system")
        await session.commit()
    yield database
    await database.dispose()


class Inbox:
    def __init__(self) -> None:
        self.offers: list[Any] = []

    def __call__(self, event: AgentOffered) -> None:
        self.offers.append(event.assignment)


def waiting(call_id: str) -> WaitingCall:
    return WaitingCall(call_id, "general", "ticket", "北京", entered_at=time.time())


async def test_the_higher_level_agent_is_offered_and_reserved(db: Database) -> None:
    dist = Distributor(db, load_routing(), EventFeed())
    inbox = Inbox()
    dist.join("c1", inbox, waiting("c1"), entry_id=1)
    await dist.round()
    assert [a.agent.number for a in inbox.offers] == ["1002"]
    assert dist.reserved == {"1002": "c1"}
    # A second caller gets the other agent, never the reserved one.
    second = Inbox()
    dist.join("c2", second, waiting("c2"), entry_id=2)
    await dist.round()
    assert [a.agent.number for a in second.offers] == ["1001"]
    assert dist.position("c2") == 0 or dist.waiters["c2"].offered_to == "1001"


async def test_an_agent_who_did_not_answer_is_not_offered_the_same_caller_at_once(
        db: Database) -> None:
    dist = Distributor(db, load_routing(), EventFeed())
    inbox = Inbox()
    dist.join("c1", inbox, waiting("c1"), entry_id=1)
    await dist.round()
    dist.release("c1", "1002", answered=False)
    await dist.round()
    assert [a.agent.number for a in inbox.offers] == ["1002", "1001"]
    assert dist.reserved == {"1001": "c1"}


async def test_nobody_is_offered_when_no_agent_is_ready_and_leaving_frees_the_offer(
        db: Database) -> None:
    dist = Distributor(db, load_routing(), EventFeed())
    async with db.session() as session:
        for number in ("1001", "1002"):
            await set_state(session, await get_agent(session, number), "paused", by="system")
        await session.commit()
    inbox = Inbox()
    dist.join("c1", inbox, waiting("c1"), entry_id=1)
    await dist.round()
    assert inbox.offers == [] and dist.anyone_for("ticket") and not dist.anyone_for("english")
    dist.leave("c1")
    assert dist.waiters == {} and dist.reserved == {}


async def test_an_agent_made_ready_elsewhere_wakes_the_distributor(db: Database) -> None:
    feed = EventFeed()
    dist = Distributor(db, load_routing(), feed)
    await dist.start()
    try:
        rounds = dist.rounds
        feed.publish(AgentStateChanged(agent="1001", state="ready"))
        for _ in range(50):
            if dist.rounds > rounds:
                break
            await asyncio.sleep(0.01)
        assert dist.rounds > rounds  # well before the once-a-second round
    finally:
        await dist.stop()


async def test_recovery_closes_what_ended_while_away_and_keeps_live_calls(
        db: Database) -> None:
    async with db.session() as session:
        for number, call_id in (("1001", "alive"), ("1002", "old")):
            agent = await get_agent(session, number)
            await set_state(session, agent, "ringing", by="system")
            await set_state(session, agent, "on_call", by="system")
            await call_records.open_call(session, CallTrace(call_id=call_id, caller="138"))
            session.add(AgentLeg(call_id=call_id, agent_id=agent.id, ring_at=now(),
                                 answer_at=now(), result=AgentLegResult.ANSWERED))
        await call_records.enter_queue(session, "old", "general", False, "asked")
        await call_records.enter_queue(session, "alive", "general", False, "asked")
        await session.commit()
    closed = await close_left_behind(db, {"alive"}, agents=True)
    assert (closed.calls, closed.entries, closed.legs, closed.agents) == (1, 1, 1, 1)
    async with db.session() as session:
        states = {s.number: s.state for s in await agent_snapshot(session)}
        entries = {e.call_id: e for e in await session.scalars(select(QueueEntry))}
        old = await session.get(CallRecord, "old")
        alive = await session.get(CallRecord, "alive")
        history = [e.state for e in await session.scalars(
            select(AgentStateEvent).join(Agent).where(Agent.number == "1002")
            .order_by(AgentStateEvent.id))]
    # The agent whose call went on is still on it; the other went through wrap-up to ready.
    assert states == {"1001": AgentStateName.ON_CALL, "1002": AgentStateName.READY}
    assert history[-2:] == [AgentStateName.WRAP_UP, AgentStateName.READY]
    assert entries["old"].result == QueueResult.PLATFORM_RESTART
    assert entries["alive"].left_at is None
    assert old is not None and old.outcome == CallOutcome.PLATFORM_RESTART
    assert old.ended_by == EndedBy.PLATFORM_RESTART and old.ended_at is not None
    assert alive is not None and alive.ended_at is None
    # Later reconnects leave agents alone (a wrap-up of this process may be under way).
    assert not await close_left_behind(db, {"alive"}, agents=False)


class CountingReads:
    """Counts the distributor's reads of the agents from the database."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        real = agent_snapshot

        async def counted(session: Any, number: str | None = None) -> Any:
            self.reads += 1
            return await real(session, number)

        monkeypatch.setattr("app.acd.distributor.agent_snapshot", counted)


async def test_rounds_within_a_second_use_the_copy_the_events_keep_current(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingReads(monkeypatch)
    dist = Distributor(db, load_routing(), EventFeed())
    first = Inbox()
    dist.join("c1", first, waiting("c1"), entry_id=1)
    await dist.round()
    assert [a.agent.number for a in first.offers] == ["1002"] and counter.reads == 1
    # 1002 rang and went on a call; 1001 paused through the API: the feed says so.
    for agent, state in (("1002", "ringing"), ("1002", "on_call"), ("1001", "paused")):
        assert dist.apply(AgentStateChanged(agent=agent, state=state)) is False
    dist.leave("c1")  # connected: it left the queue
    second = Inbox()
    dist.join("c2", second, waiting("c2"), entry_id=2)
    await dist.round()
    assert second.offers == [] and counter.reads == 1, "no query, and nobody is free"
    # 1001 ready again: that event wakes a round, which offers it without a query.
    assert dist.apply(AgentStateChanged(agent="1001", state="ready")) is True
    await dist.round()
    assert [a.agent.number for a in second.offers] == ["1001"] and counter.reads == 1
    view = {a.number: a for a in dist.agents}
    assert view["1002"].state == "on_call" and view["1001"].state == "ready"


async def test_the_copy_is_reread_after_a_second_and_a_refused_ring_drops_the_agent(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingReads(monkeypatch)
    dist = Distributor(db, load_routing(), EventFeed())
    await dist.round()
    # Changed behind the feed's back (another process): seen at the next read.
    async with db.session() as session:
        await set_state(session, await get_agent(session, "1002"), "paused", by="system")
        await session.commit()
    dist.last_round -= 2  # the copy is older than a second
    inbox = Inbox()
    dist.join("c1", inbox, waiting("c1"), entry_id=1)
    await dist.round()
    assert counter.reads == 2 and [a.agent.number for a in inbox.offers] == ["1001"]
    # The ring's own check found 1001 not ready after all: not offered again until re-read.
    dist.unready("1001")
    dist.release("c1", "1001")
    await dist.round()
    assert [a.agent.number for a in inbox.offers] == ["1001"] and counter.reads == 2


async def test_a_published_wrap_up_says_how_long_it_lasts(db: Database) -> None:
    feed = EventFeed()
    sub = feed.subscribe()
    Distributor(db, load_routing(), feed).publish_state("1001", "wrap_up", call_id="c9",
                                                        seconds=15)
    event = await sub.get(timeout=1)
    assert event is not None and event.as_dict()["seconds"] == 15
    assert event.as_dict()["state"] == "wrap_up" and event.call_id == "c9"


async def test_recovery_leaves_the_other_nodes_calls_alone(db: Database) -> None:
    """In a cluster a node that starts closes only its own calls: another node's call, its
    queue entry and leg stay open, and its agent stays on the call."""
    async with db.session() as session:
        for number, call_id, node in (("1001", "theirs", "node-b"), ("1002", "ours", "node-a")):
            agent = await get_agent(session, number)
            await set_state(session, agent, "ringing", by="system")
            await set_state(session, agent, "on_call", by="system")
            await call_records.open_call(session, CallTrace(call_id=call_id, caller="138",
                                                            node=node))
            session.add(AgentLeg(call_id=call_id, agent_id=agent.id, ring_at=now(),
                                 answer_at=now(), result=AgentLegResult.ANSWERED))
            await call_records.enter_queue(session, call_id, "general", False, "asked")
        await session.commit()
    closed = await close_left_behind(db, set(), agents=True, node="node-a")
    assert (closed.calls, closed.entries, closed.legs, closed.agents) == (1, 1, 1, 1)
    async with db.session() as session:
        states = {s.number: s.state for s in await agent_snapshot(session)}
        entries = {e.call_id: e for e in await session.scalars(select(QueueEntry))}
        theirs = await session.get(CallRecord, "theirs")
        open_legs = list(await session.scalars(select(AgentLeg.call_id)
                                               .where(AgentLeg.end_at.is_(None))))
    assert states == {"1001": AgentStateName.ON_CALL, "1002": AgentStateName.READY}
    assert theirs is not None and theirs.ended_at is None and theirs.node == "node-b"
    assert entries["theirs"].left_at is None
    assert entries["ours"].result == QueueResult.PLATFORM_RESTART
    assert open_legs == ["theirs"]
    # The other node's talk ends: its agent's wrap-up is that node's too, not cut short here.
    async with db.session() as session:
        leg = await session.scalar(select(AgentLeg).where(AgentLeg.call_id == "theirs"))
        assert leg is not None
        leg.end_at = now()
        await set_state(session, await get_agent(session, "1001"), "wrap_up", by="system")
        await session.commit()
    await close_left_behind(db, set(), agents=True, node="node-a")
    async with db.session() as session:
        states = {s.number: s.state for s in await agent_snapshot(session)}
    assert states["1001"] == AgentStateName.WRAP_UP
