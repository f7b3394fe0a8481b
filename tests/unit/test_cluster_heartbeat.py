"""Cluster nodes watch each other: a node silent for long has its calls closed by one other
node, and only its own; it is a node again once it beats."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from app.acd.agents import create_agent, get_agent
from app.acd.states import agent_snapshot, set_state
from app.admin.demo_data import seed_centers
from app.cluster.heartbeat import beat, claim_silent, close_silent
from app.core.calltrace import CallTrace
from app.core.clock import now
from app.db import migrate
from app.db.models import (
    AgentLeg,
    AgentLegResult,
    AgentStateName,
    CallOutcome,
    CallRecord,
    PlatformNode,
    QueueEntry,
    QueueResult,
)
from app.db.session import Database
from app.services import call_records


async def test_a_silent_node_has_its_calls_closed_by_one_other_node(empty_db_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_db_url)
    db = Database(empty_db_url)
    try:
        async with db.session() as session:
            await seed_centers(session)
            for number, call_id, node in (("1001", "on-b", "node-b"), ("1002", "on-a", "node-a")):
                await create_agent(session, number, name=f"a{number}", center="北京",
                                   skills={"ticket": 5}, password="password-1")
                agent = await get_agent(session, number)
                for state in ("ready", "ringing", "on_call"):
                    await set_state(session, agent, state, by="system")
                await call_records.open_call(session, CallTrace(call_id=call_id, node=node))
                await session.flush()
                session.add(AgentLeg(call_id=call_id, agent_id=agent.id, ring_at=now(),
                                     answer_at=now(), result=AgentLegResult.ANSWERED))
                await call_records.enter_queue(session, call_id, "general", False, "asked")
            await session.commit()
        for node in ("node-a", "node-b", "node-c"):
            await beat(db, node)
        assert await close_silent(db, "node-a") == {}  # everyone beat just now
        async with db.session() as session:
            silent = await session.get(PlatformNode, "node-b")
            assert silent is not None
            silent.seen_at = now() - timedelta(seconds=30)
            await session.commit()
        # Two live nodes look at once: one of them closes node-b's calls.
        claims = await asyncio.gather(claim_silent(db, "node-a"), claim_silent(db, "node-c"))
        assert sorted(claims) == [[], ["node-b"]]
        async with db.session() as session:
            row = await session.get(PlatformNode, "node-b")
            assert row is not None
            row.closed_at = None  # as if unclaimed: close_silent claims and closes
            await session.commit()
        closed = await close_silent(db, "node-a")
        assert list(closed) == ["node-b"]
        got = closed["node-b"]
        assert (got.calls, got.entries, got.legs, got.agents) == (1, 1, 1, 1)
        async with db.session() as session:
            states = {s.number: s.state for s in await agent_snapshot(session)}
            records = {r.id: r for r in await session.scalars(select(CallRecord))}
            entries = {e.call_id: e for e in await session.scalars(select(QueueEntry))}
        assert states == {"1001": AgentStateName.READY, "1002": AgentStateName.ON_CALL}
        assert records["on-b"].outcome == CallOutcome.PLATFORM_RESTART
        assert records["on-a"].ended_at is None and entries["on-a"].left_at is None
        assert entries["on-b"].result == QueueResult.PLATFORM_RESTART
        assert await close_silent(db, "node-a") == {}  # closed once
        await beat(db, "node-b")  # back: a node again
        async with db.session() as session:
            back = await session.get(PlatformNode, "node-b")
            assert back is not None and back.closed_at is None
    finally:
        await db.dispose()
