"""Agents shared by the nodes of a cluster: one agent is never rung for two calls at once, even
when two nodes (two processes, each with its own distributor) ring it at the same moment."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from app.acd.agents import create_agent, get_agent
from app.acd.records import start_ringing
from app.acd.states import set_state
from app.admin.demo_data import seed_centers
from app.core.calltrace import CallTrace
from app.db import migrate
from app.db.models import AgentLeg, AgentState, AgentStateName
from app.db.session import Database
from app.services import call_records


async def test_two_nodes_ringing_one_agent_at_once_ring_it_once(empty_db_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_db_url)
    node_a, node_b = Database(empty_db_url), Database(empty_db_url)
    try:
        async with node_a.session() as session:
            await seed_centers(session)
            await create_agent(session, "1001", name="a1001", center="北京",
                               skills={"ticket": 5}, password="password-1")
            await set_state(session, await get_agent(session, "1001"), "ready", by="system")
            for call_id, node in (("call-a", "a"), ("call-b", "b")):
                await call_records.open_call(session, CallTrace(call_id=call_id, node=node))
            await session.commit()
        for _ in range(5):  # a race: several rounds, each from a ready agent
            legs = await asyncio.gather(start_ringing(node_a, "1001", "call-a", None),
                                        start_ringing(node_b, "1001", "call-b", None))
            assert sum(leg is not None for leg in legs) == 1, legs
            async with node_a.session() as session:
                assert await session.scalar(select(AgentState.state)) == AgentStateName.RINGING
                agent = await get_agent(session, "1001")
                await set_state(session, agent, "ready", by="system")
                await session.commit()
        async with node_a.session() as session:
            assert len(list(await session.scalars(select(AgentLeg)))) == 5
    finally:
        await node_a.dispose()
        await node_b.dispose()
