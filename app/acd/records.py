"""What the ACD writes as a call waits and talks: the queue entry's routing fields and result,
one agent leg per ring, agent states. Each function is one short transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from app.acd.agents import get_agent
from app.acd.states import (
    StateError,
    agent_snapshot,
    record_no_answer,
    record_unreachable,
    set_state,
)
from app.core.clock import as_utc, now
from app.db.models import (
    Agent,
    AgentLeg,
    AgentLegKind,
    AgentLegResult,
    AgentState,
    AgentStateName,
    Callback,
    CallbackStatus,
    CallRecord,
    Center,
    OfferKind,
    QueueEntry,
    QueueResult,
    TransferKind,
    WorkOrder,
)
from app.db.session import Database

log = logging.getLogger(__name__)


async def center_ids(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {c.name: c.id for c in await session.scalars(select(Center))}


async def route_entry(db: Database, entry_id: int, skill: str, center_id: int | None) -> None:
    async with db.session() as session:
        entry = await session.get(QueueEntry, entry_id)
        if entry is not None:
            entry.skill, entry.center_id = skill, center_id
            await session.commit()


async def close_entry(db: Database, entry_id: int, result: QueueResult, *,
                      answered: bool = False, overflow: tuple[int | None, int | None] | None
                      = None) -> float | None:
    """Close the entry with its result and wait; returns the wait in seconds."""
    async with db.session() as session:
        entry = await session.get(QueueEntry, entry_id)
        if entry is None or entry.left_at is not None:
            return None
        left = now()
        entry.left_at = left
        entry.result = result
        entry.wait_seconds = round((left - as_utc(entry.entered_at)).total_seconds(), 3)
        if answered:
            entry.answered_at = left
        if overflow is not None:
            entry.overflow_from_center_id, entry.overflow_to_center_id = overflow
        await session.commit()
        return entry.wait_seconds


async def start_ringing(db: Database, number: str, call_id: str, entry_id: int | None,
                        kind: AgentLegKind = AgentLegKind.QUEUE,
                        from_leg_id: int | None = None) -> int | None:
    """Agent to ringing and a new leg; None when the agent is no longer ready.

    The agent is claimed first by one conditional write (ready, and still ready when this
    write gets the row): every node's ring of the agent waits on it, so of two nodes ringing
    one agent at once, the second finds it taken. This is what keeps an agent from being
    offered two calls at once across nodes (each node's distributor proposes on its own)."""
    async with db.session() as session:
        agent = await get_agent(session, number)
        claim = await session.execute(
            update(AgentState)
            .where(AgentState.agent_id == agent.id, AgentState.state == AgentStateName.READY)
            .values(since=AgentState.since).execution_options(synchronize_session=False))
        if getattr(claim, "rowcount", 0) != 1:
            log.info("agent %s not rung: no longer ready", number)
            return None
        try:
            await set_state(session, agent, AgentStateName.RINGING, by="system")
        except StateError as exc:
            log.info("agent %s not rung: %s", number, exc)
            return None
        leg = AgentLeg(call_id=call_id, queue_entry_id=entry_id, agent_id=agent.id,
                       ring_at=now(), kind=kind, from_leg_id=from_leg_id)
        session.add(leg)
        await session.commit()
        return leg.id


async def ring_failed(db: Database, number: str, leg_id: int, result: AgentLegResult,
                      channel_id: str | None, counts: bool = True,
                      offline: bool = False) -> str:
    """The agent did not take the call: the leg's result; a no-answer or rejection counts
    towards the automatic pause (two in a row), a ring the caller gave up (counts=False) does
    not, a phone that could not be rung at all (offline) pauses the agent at once. Returns the
    agent's new state."""
    async with db.session() as session:
        # Reads first: the first change takes the write lock, every statement after it holds it.
        agent = await get_agent(session, number)
        leg = await session.get(AgentLeg, leg_id)
        if leg is not None:
            leg.result, leg.end_at, leg.channel_id = result, now(), channel_id
        try:
            if offline:
                state = (await record_unreachable(session, agent)).state.value
            elif counts:
                state = (await record_no_answer(session, agent)).state.value
            else:
                state = (await set_state(session, agent, AgentStateName.READY,
                                         by="system")).state.value
        except StateError:
            state = "unknown"
        await session.commit()
        return state


async def answered(db: Database, number: str, leg_id: int, channel_id: str) -> None:
    async with db.session() as session:
        agent = await get_agent(session, number)  # reads before the first change (ring_failed)
        leg = await session.get(AgentLeg, leg_id)
        if leg is not None:
            leg.answer_at, leg.result, leg.channel_id = now(), AgentLegResult.ANSWERED, channel_id
        await set_state(session, agent, AgentStateName.ON_CALL, by="system")
        await session.commit()


@dataclass(frozen=True)
class Holds:
    """The holds of one agent leg: how many, and how long the caller held in all."""

    count: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Handover:
    """Where an agent leg handed the caller on."""

    kind: TransferKind
    queue: str | None = None
    agent: str | None = None


async def talk_ended(db: Database, number: str, leg_id: int, wrap_up: float,
                     holds: Holds = Holds(), handover: Handover | None = None) -> None:
    """The agent's part of the call is over: talk (without hold), hold and wrap-up time, and
    where the caller went if the agent transferred it; the agent to wrap-up."""
    async with db.session() as session:
        agent = await get_agent(session, number)  # reads before the first change (ring_failed)
        transfer_agent = (await get_agent(session, handover.agent)).id \
            if handover is not None and handover.agent is not None else None
        leg = await session.get(AgentLeg, leg_id)
        if leg is not None and leg.end_at is None:
            ended = now()
            leg.end_at = ended
            if leg.answer_at is not None:
                talk = (ended - as_utc(leg.answer_at)).total_seconds() - holds.seconds
                leg.talk_seconds = round(max(0.0, talk), 3)
            leg.hold_seconds = round(holds.seconds, 3)
            leg.hold_count = holds.count
            leg.wrap_up_seconds = wrap_up
            if handover is not None:
                leg.transfer_kind = handover.kind
                leg.transfer_queue = handover.queue
                if transfer_agent is not None:
                    leg.transfer_agent_id = transfer_agent
        try:
            await set_state(session, agent, AgentStateName.WRAP_UP, by="system")
        except StateError as exc:
            log.info("agent %s: no wrap-up: %s", number, exc)
        await session.commit()


async def transfer_entry(db: Database, call_id: str, queue: str, priority: bool,
                         from_leg_id: int, by_agent: str) -> int:
    """A new queue entry for a caller an agent transferred into `queue`."""
    async with db.session() as session:
        entry = QueueEntry(call_id=call_id, queue=queue, priority=priority,
                           reason=f"transfer from {by_agent}", entered_at=now(),
                           transferred_from_leg_id=from_leg_id)
        session.add(entry)
        await session.commit()
        return entry.id


async def was_on_call(db: Database, number: str, call_id: str) -> bool:
    """Whether this agent answered this call at some point."""
    async with db.session() as session:
        return bool(await session.scalar(
            select(func.count()).select_from(AgentLeg).join(Agent, Agent.id == AgentLeg.agent_id)
            .where(AgentLeg.call_id == call_id, Agent.number == number,
                   AgentLeg.answer_at.is_not(None))))


async def being_answered(db: Database, call_id: str) -> bool:
    """Whether an agent has answered this call and not left it (the talk may be starting)."""
    async with db.session() as session:
        return bool(await session.scalar(
            select(func.count()).select_from(AgentLeg)
            .where(AgentLeg.call_id == call_id, AgentLeg.answer_at.is_not(None),
                   AgentLeg.end_at.is_(None))))


async def call_known(db: Database, call_id: str) -> bool:
    async with db.session() as session:
        return await session.get(CallRecord, call_id) is not None


async def wrap_up_done(db: Database, number: str) -> bool:
    """Wrap-up over: ready again, unless the agent changed state meanwhile."""
    async with db.session() as session:
        agent = await get_agent(session, number)
        current = (await agent_snapshot(session, number))[0]
        if current.state != AgentStateName.WRAP_UP:
            return False
        try:
            await set_state(session, agent, AgentStateName.READY, by="system")
        except StateError:
            return False
        await session.commit()
        return True


async def request_callback(db: Database, call_id: str, number: str, queue: str, skill: str,
                           center_id: int | None, context: dict[str, Any]) -> int:
    async with db.session() as session:
        callback = Callback(call_id=call_id, number=number, queue=queue, skill=skill,
                            center_id=center_id, context=context, requested_at=now(),
                            status=CallbackStatus.PENDING, attempts=0, next_attempt_at=now())
        session.add(callback)
        await session.commit()
        return callback.id


async def callback_offer(db: Database, callback_id: int, leg_id: int) -> int | None:
    """A callback attempt rang an agent: a new offer (a queue entry of kind callback) at the
    callback's queue and center, with the agent's leg attached. Returns the entry's id."""
    async with db.session() as session:
        cb = await session.get(Callback, callback_id)
        leg = await session.get(AgentLeg, leg_id)
        if cb is None or leg is None or cb.call_id is None:
            return None
        entry = QueueEntry(call_id=cb.call_id, queue=cb.queue, priority=False,
                           reason=f"callback attempt {cb.attempts}", entered_at=leg.ring_at,
                           skill=cb.skill, center_id=cb.center_id, kind=OfferKind.CALLBACK,
                           callback_id=cb.id)
        session.add(entry)
        await session.flush()
        leg.queue_entry_id = entry.id
        await session.commit()
        return entry.id


async def leg_entry(db: Database, leg_id: int) -> int | None:
    async with db.session() as session:
        leg = await session.get(AgentLeg, leg_id)
        return leg.queue_entry_id if leg is not None else None


async def recent_calls(db: Database, caller: str, days: int = 7) -> int:
    """Calls from this number in the last `days` days (for the screen pop)."""
    if not caller:
        return 0
    from datetime import timedelta

    since = now() - timedelta(days=days)
    async with db.session() as session:
        return int(await session.scalar(
            select(func.count()).select_from(CallRecord)
            .where(CallRecord.caller == caller, CallRecord.started_at >= since)) or 0)


async def recent_work_orders(db: Database, caller: str, limit: int = 5) -> list[dict[str, Any]]:
    """This number's latest work orders, newest first (for the screen pop)."""
    if not caller:
        return []
    async with db.session() as session:
        rows = await session.scalars(
            select(WorkOrder).where(WorkOrder.caller_number == caller)
            .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(limit))
        return [{"number": w.number, "type": w.type.value, "status": w.status.value,
                 "created_at": as_utc(w.created_at).isoformat()} for w in rows]


@dataclass(frozen=True)
class LeftBehind:
    """Where a call stood in the ACD when its task was lost (a restart of the platform)."""

    queue: str
    reason: str
    priority: bool
    entry_id: int
    entered_at: float
    waiting: bool  # the entry is still open: the caller was waiting for an agent
    leg_id: int | None = None  # an answered leg still open: the caller was talking to
    agent: str | None = None  # this agent


async def left_behind(db: Database, call_id: str) -> LeftBehind | None:
    async with db.session() as session:
        entry = await session.scalar(
            select(QueueEntry)
            .where(QueueEntry.call_id == call_id, QueueEntry.kind == OfferKind.LIVE)
            .order_by(QueueEntry.id.desc()).limit(1))
        if entry is None:
            return None
        talk = (await session.execute(
            select(AgentLeg.id, Agent.number).join(Agent, Agent.id == AgentLeg.agent_id)
            .where(AgentLeg.call_id == call_id, AgentLeg.answer_at.is_not(None),
                   AgentLeg.end_at.is_(None)).order_by(AgentLeg.id.desc()).limit(1))).first()
        return LeftBehind(
            queue=entry.queue, reason=entry.reason, priority=entry.priority, entry_id=entry.id,
            entered_at=as_utc(entry.entered_at).timestamp(), waiting=entry.left_at is None,
            leg_id=talk[0] if talk else None, agent=talk[1] if talk else None)
