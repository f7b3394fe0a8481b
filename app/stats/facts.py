"""What the statistics count, read from the ACD's call records only: one Offer per queue entry
(a live wait or a callback attempt), one CallFact per call that ended in the period, and the
agents' time per state from their state history."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import as_utc, now
from app.db.models import (
    Agent,
    AgentLeg,
    AgentLegResult,
    AgentStateEvent,
    AgentStateName,
    CallOutcome,
    CallRecord,
    CallStep,
    Center,
    OfferKind,
    QueueEntry,
    QueueResult,
)
from app.stats.periods import Period

# Waits and calls the platform or the network ended: counted apart, never as abandons.
PLATFORM_RESULTS = frozenset({QueueResult.ENDED_BY_PLATFORM, QueueResult.PLATFORM_RESTART,
                              QueueResult.PBX_RESTART, QueueResult.MEDIA_TIMEOUT})
PLATFORM_OUTCOMES = frozenset({CallOutcome.PLATFORM_SHUTDOWN, CallOutcome.PLATFORM_RESTART,
                               CallOutcome.PBX_RESTART, CallOutcome.MEDIA_TIMEOUT})
NO_BRANCH = "-"  # a call that chose no menu option


@dataclass(frozen=True)
class Offer:
    """One queue entry that has ended: a caller's live wait, or one callback attempt."""

    entry_id: int
    queue: str
    kind: OfferKind
    entered_at: datetime
    result: QueueResult
    wait: float
    center: str | None  # where the caller entered (origin)
    overflow_to: str | None  # the center whose agent answered, when it was another one
    agent: str | None  # the 工号 of the agent who answered
    handle: float | None  # talk + hold + wrap-up of the answering legs, once they ended
    branch: str  # the call's menu branch


@dataclass(frozen=True)
class CallFact:
    """One call that ended, for the IVR figures."""

    started_at: datetime
    branch: str
    outcome: CallOutcome | None
    choices: int  # menu options chosen
    spoken_choices: int  # ... of them by speech
    intents_heard: int  # spoken answers to a menu with an intent
    confirmations: int  # ... the menu asked the caller to confirm


@dataclass
class AgentTime:
    """Seconds one agent spent per state (and paused per reason) within one interval."""

    agent: str
    center: str | None
    start: datetime
    states: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    pauses: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def branch_of(steps: list[tuple[str, dict[str, Any]]]) -> str:
    """The menu branch of a call: the node the caller's first menu choice led to."""
    for kind, detail in steps:
        if kind == "choice" and detail.get("to"):
            return str(detail["to"])
    return NO_BRANCH


async def _steps(session: AsyncSession, call_ids: set[str]
                 ) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    out: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    ids = sorted(call_ids)
    for i in range(0, len(ids), 500):  # bounded IN lists
        rows = await session.execute(
            select(CallStep.call_id, CallStep.kind, CallStep.detail)
            .where(CallStep.call_id.in_(ids[i:i + 500]),
                   CallStep.kind.in_(("choice", "speech", "confirm")))
            .order_by(CallStep.call_id, CallStep.seq))
        for call_id, kind, detail in rows:
            out[call_id].append((kind, detail or {}))
    return out


async def offers(session: AsyncSession, period: Period) -> list[Offer]:
    """Every queue entry that entered within the period and has ended (a wait still under way
    is not counted yet)."""
    centers = {c.id: c.name for c in await session.scalars(select(Center))}
    entries = list(await session.scalars(
        select(QueueEntry).where(QueueEntry.entered_at >= period.start_utc,
                                 QueueEntry.entered_at < period.end_utc,
                                 QueueEntry.left_at.is_not(None),
                                 QueueEntry.result.is_not(None))
        .order_by(QueueEntry.id)))
    legs: dict[int, list[tuple[AgentLeg, str]]] = defaultdict(list)
    ids = [e.id for e in entries]
    for i in range(0, len(ids), 500):
        rows = await session.execute(
            select(AgentLeg, Agent.number).join(Agent, Agent.id == AgentLeg.agent_id)
            .where(AgentLeg.queue_entry_id.in_(ids[i:i + 500]),
                   AgentLeg.result == AgentLegResult.ANSWERED)
            .order_by(AgentLeg.id))
        for leg, number in rows:
            assert leg.queue_entry_id is not None
            legs[leg.queue_entry_id].append((leg, number))
    steps = await _steps(session, {e.call_id for e in entries})
    out = []
    for e in entries:
        answering = legs.get(e.id, [])
        handle: float | None = None
        if answering and all(leg.end_at is not None for leg, _ in answering):
            handle = sum((leg.talk_seconds or 0) + (leg.hold_seconds or 0)
                         + (leg.wrap_up_seconds or 0) for leg, _ in answering)
        assert e.result is not None and e.left_at is not None
        wait = e.wait_seconds if e.wait_seconds is not None else \
            (as_utc(e.left_at) - as_utc(e.entered_at)).total_seconds()
        out.append(Offer(
            entry_id=e.id, queue=e.queue, kind=e.kind, entered_at=as_utc(e.entered_at),
            result=e.result, wait=wait, center=centers.get(e.center_id or 0),
            overflow_to=centers.get(e.overflow_to_center_id or 0),
            agent=answering[0][1] if answering else None, handle=handle,
            branch=branch_of(steps.get(e.call_id, []))))
    return out


async def calls(session: AsyncSession, period: Period) -> list[CallFact]:
    """Every call that started within the period and has ended."""
    records = list(await session.execute(
        select(CallRecord.id, CallRecord.started_at, CallRecord.outcome)
        .where(CallRecord.started_at >= period.start_utc, CallRecord.started_at < period.end_utc,
               CallRecord.ended_at.is_not(None))))
    steps = await _steps(session, {r[0] for r in records})
    out = []
    for call_id, started, outcome in records:
        own = steps.get(call_id, [])
        choices = [d for k, d in own if k == "choice"]
        out.append(CallFact(
            started_at=as_utc(started), branch=branch_of(own), outcome=outcome,
            choices=len(choices),
            spoken_choices=sum(1 for d in choices if d.get("by") == "speech"),
            intents_heard=sum(1 for k, d in own if k == "speech" and "intent" in d),
            confirmations=sum(1 for k, _ in own if k == "confirm")))
    return out


async def agent_times(session: AsyncSession, period: Period) -> list[AgentTime]:
    """Each agent's time per state within the period, cut into the report's intervals, from
    the state history (the state an agent was in when the period began counts from its
    start; the current state counts until now)."""
    agents = {agent_id: (number, center) for agent_id, number, center in await session.execute(
        select(Agent.id, Agent.number, Center.name)
        .join(Center, Center.id == Agent.center_id, isouter=True))}
    # The period's events, and each agent's last one before it (the state it began in).
    before = select(func.max(AgentStateEvent.id)).where(
        AgentStateEvent.at < period.start_utc).group_by(AgentStateEvent.agent_id)
    events = list(await session.scalars(
        select(AgentStateEvent).where(
            or_(AgentStateEvent.id.in_(before),
                and_(AgentStateEvent.at >= period.start_utc,
                     AgentStateEvent.at < period.end_utc)))
        .order_by(AgentStateEvent.agent_id, AgentStateEvent.at, AgentStateEvent.id)))
    by_agent: dict[int, list[AgentStateEvent]] = defaultdict(list)
    for ev in events:
        by_agent[ev.agent_id].append(ev)
    until = min(period.end, now())
    times: dict[tuple[str, datetime], AgentTime] = {}
    for agent_id, evs in by_agent.items():
        number, center = agents.get(agent_id, (str(agent_id), None))
        for ev, nxt in zip(evs, [*evs[1:], None], strict=True):
            begin = as_utc(ev.at)
            finish = as_utc(nxt.at) if nxt is not None else until
            if finish <= period.start or ev.state == AgentStateName.LOGGED_OUT:
                continue
            for bucket, seconds in period.split(begin, finish):
                t = times.setdefault((number, bucket), AgentTime(number, center, bucket))
                t.states[ev.state.value] += seconds
                if ev.state == AgentStateName.PAUSED:
                    t.pauses[ev.reason or "-"] += seconds
    return list(times.values())
