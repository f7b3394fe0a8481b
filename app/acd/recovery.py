"""What a stopped or crashed platform left open, closed once it is connected to the PBX again:
records, queue entries and agent legs of calls that ended while it was away, agents left
ringing or on a call, callbacks left half-made. Calls still alive (adopted by the new process)
keep theirs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.acd.states import StateError, set_state
from app.core.calltrace import EndedBy
from app.core.clock import as_utc, now
from app.db.models import (
    Agent,
    AgentLeg,
    AgentLegResult,
    AgentState,
    AgentStateName,
    Callback,
    CallbackStatus,
    CallOutcome,
    CallRecord,
    QueueEntry,
    QueueResult,
)
from app.db.session import Database
from app.services.call_records import carried_by

log = logging.getLogger(__name__)
S = AgentStateName
# How an agent left mid-call gets back to ready: every step it would have taken.
BACK_TO_READY = {S.RINGING: [S.READY], S.ON_CALL: [S.WRAP_UP, S.READY], S.WRAP_UP: [S.READY]}


def _seconds(since: datetime | None, until: datetime) -> float | None:
    if since is None:
        return None
    since = as_utc(since)
    return round((until - since).total_seconds(), 3)


@dataclass
class Closed:
    calls: int = 0
    entries: int = 0
    legs: int = 0
    agents: int = 0
    callbacks: int = 0

    def __bool__(self) -> bool:
        return any((self.calls, self.entries, self.legs, self.agents, self.callbacks))


async def _last_on_other_nodes(session: AsyncSession, node: str) -> set[int]:
    """Agents whose latest leg was on another node's call: their ringing, talk or wrap-up is
    that node's to end (or, if it died, the node that closes its calls)."""
    latest = (select(AgentLeg.agent_id, func.max(AgentLeg.id).label("leg_id"))
              .group_by(AgentLeg.agent_id).subquery())
    rows = await session.scalars(
        select(latest.c.agent_id).join(AgentLeg, AgentLeg.id == latest.c.leg_id)
        .join(CallRecord, CallRecord.id == AgentLeg.call_id).where(~carried_by(node)))
    return set(rows)


async def close_left_behind(db: Database, live: set[str], *, agents: bool,
                            node: str = "main", callbacks: bool = True) -> Closed:
    """Close what belongs to no live call of this node. `agents`: also free agents and
    callbacks (only right after start: later, a wrap-up or a callback of this process may be
    under way). In a cluster the other nodes' calls are theirs: their records, queue entries
    and legs are left alone, and so are the agents talking on them."""
    closed = Closed()
    at = now()
    async with db.session() as session:
        # Every read before the first write (no autoflush): on SQLite the first write takes
        # the write lock, held through every later statement until the commit.
        with session.no_autoflush:
            for record in await session.scalars(select(CallRecord).where(
                    CallRecord.ended_at.is_(None), carried_by(node))):
                if record.id in live:
                    continue
                record.ended_at = at
                record.outcome = CallOutcome.PLATFORM_RESTART
                record.outcome_reason = "ended while the platform was down"
                record.ended_by = EndedBy.PLATFORM_RESTART
                closed.calls += 1
            for entry in await session.scalars(
                    select(QueueEntry).join(CallRecord, CallRecord.id == QueueEntry.call_id)
                    .where(QueueEntry.left_at.is_(None), carried_by(node))):
                if entry.call_id in live:
                    continue
                entry.left_at, entry.result = at, QueueResult.PLATFORM_RESTART
                entry.wait_seconds = _seconds(entry.entered_at, at)
                closed.entries += 1
            # Agents with a live call, here or on another node.
            talking = set(await session.scalars(
                select(AgentLeg.agent_id).join(CallRecord, CallRecord.id == AgentLeg.call_id)
                .where(AgentLeg.end_at.is_(None), ~carried_by(node))))
            for leg in await session.scalars(
                    select(AgentLeg).join(CallRecord, CallRecord.id == AgentLeg.call_id)
                    .where(AgentLeg.end_at.is_(None), carried_by(node))):
                if leg.call_id in live:
                    talking.add(leg.agent_id)
                    continue
                leg.end_at = at
                if leg.answer_at is not None:
                    leg.talk_seconds = _seconds(leg.answer_at, at)
                else:
                    leg.result = AgentLegResult.FAILED
                closed.legs += 1
            if agents:
                stuck = (await session.execute(
                    select(Agent, AgentState).join(AgentState, AgentState.agent_id == Agent.id)
                    .where(AgentState.state.in_(list(BACK_TO_READY))))).all()
                elsewhere = await _last_on_other_nodes(session, node)
                for agent, state in stuck:
                    if agent.id in talking or agent.id in elsewhere:
                        continue
                    try:
                        for step in BACK_TO_READY[state.state]:
                            await set_state(session, agent, step, by="system")
                    except StateError as exc:
                        log.warning("agent %s left %s: %s", agent.number, state.state, exc)
                    closed.agents += 1
                # Callbacks do not say which node rings them: only a node's own start resets
                # those in progress (another node's may be ringing right now).
                for callback in (await session.scalars(
                        select(Callback).where(Callback.status == CallbackStatus.IN_PROGRESS))
                        if callbacks else []):
                    callback.status, callback.next_attempt_at = CallbackStatus.PENDING, at
                    callback.last_result = "platform_restart"
                    closed.callbacks += 1
        await session.commit()
    if closed:
        log.info("closed what ended while the platform was away: %s", closed)
    return closed
