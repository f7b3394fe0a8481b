"""What the statistics count, read from the ACD's call records only: one Offer per queue entry
(a live wait or a callback attempt), one CallFact per call that ended in the period, and the
agents' time per state from their state history."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


def _has_key(dialect: str, column: Any, key: str) -> ColumnElement[bool]:
    """The JSON object has the key, even when its value is null (a menu's spoken answer
    records its intent, null when none was heard; a spoken entry records no intent)."""
    if dialect == "postgresql":
        return column.op("->")(key).is_not(None)  # type: ignore[no-any-return]
    return func.json_type(column, f"$.{key}").is_not(None)


def _branch(call_id: Any) -> ScalarSelect[str | None]:
    """The menu branch of a call: the node its first menu choice led to (a correlated
    subquery on the call's steps, one index lookup per row)."""
    step = aliased(CallStep)  # apart from any call_steps of the outer query
    to = step.detail["to"].as_string()
    return (select(to).where(step.call_id == call_id, step.kind == "choice",
                             to.is_not(None), to != "")
            .order_by(step.seq).limit(1).scalar_subquery())


async def offers(session: AsyncSession, period: Period) -> list[Offer]:
    """Every queue entry that entered within the period and has ended (a wait still under way
    is not counted yet)."""
    conn = await session.connection()  # plain rows, no ORM objects
    centers: dict[int, str] = {cid: name for cid, name in
                               await conn.execute(select(Center.id, Center.name))}
    in_period = (QueueEntry.entered_at >= period.start_utc,
                 QueueEntry.entered_at < period.end_utc,
                 QueueEntry.left_at.is_not(None), QueueEntry.result.is_not(None))
    # Per entry, its answering legs summed: the handle time counts once every one ended.
    legs = (select(AgentLeg.queue_entry_id.label("entry_id"),
                   func.count().label("n"), func.count(AgentLeg.end_at).label("ended"),
                   func.sum(func.coalesce(AgentLeg.talk_seconds, 0.0)
                            + func.coalesce(AgentLeg.hold_seconds, 0.0)
                            + func.coalesce(AgentLeg.wrap_up_seconds, 0.0)).label("handle"),
                   func.min(AgentLeg.id).label("first_leg"))
            .where(AgentLeg.queue_entry_id.in_(select(QueueEntry.id).where(*in_period)),
                   AgentLeg.result == AgentLegResult.ANSWERED)
            .group_by(AgentLeg.queue_entry_id).subquery())
    first = aliased(AgentLeg)  # the first answering leg names the agent
    rows = await conn.execute(
        select(QueueEntry.id, QueueEntry.queue, QueueEntry.kind, QueueEntry.entered_at,
               QueueEntry.left_at, QueueEntry.result, QueueEntry.wait_seconds,
               QueueEntry.center_id, QueueEntry.overflow_to_center_id,
               Agent.number, legs.c.n, legs.c.ended, legs.c.handle,
               _branch(QueueEntry.call_id))
        .where(*in_period)
        .outerjoin(legs, legs.c.entry_id == QueueEntry.id)
        .outerjoin(first, first.id == legs.c.first_leg)
        .outerjoin(Agent, Agent.id == first.agent_id)
        .order_by(QueueEntry.id))
    out = []
    for (entry_id, queue, kind, entered, left, result, wait, center_id, overflow_to_id,
         agent, n, ended, handle, branch) in rows.all():
        assert result is not None and left is not None  # selected so
        if wait is None:
            wait = (as_utc(left) - as_utc(entered)).total_seconds()
        out.append(Offer(
            entry_id=entry_id, queue=queue, kind=kind, entered_at=as_utc(entered),
            result=result, wait=wait, center=centers.get(center_id or 0),
            overflow_to=centers.get(overflow_to_id or 0), agent=agent,
            handle=handle if n and n == ended else None, branch=branch or NO_BRANCH))
    return out


async def calls(session: AsyncSession, period: Period) -> list[CallFact]:
    """Every call that started within the period and has ended, its IVR steps counted in
    SQL: menu choices, those by speech, spoken answers to a menu with an intent (the key is
    there, null when none was heard), and confirmations asked."""
    conn = await session.connection()
    dialect = conn.dialect.name
    choice = CallStep.kind == "choice"

    def count(condition: ColumnElement[bool]) -> Any:
        return func.count(case((condition, 1)))

    rows = await conn.execute(
        select(CallRecord.started_at, CallRecord.outcome, count(choice),
               count(and_(choice, CallStep.detail["by"].as_string() == "speech")),
               count(and_(CallStep.kind == "speech",
                          _has_key(dialect, CallStep.detail, "intent"))),
               count(CallStep.kind == "confirm"), _branch(CallRecord.id))
        .outerjoin(CallStep, and_(CallStep.call_id == CallRecord.id,
                                  CallStep.kind.in_(("choice", "speech", "confirm"))))
        .where(CallRecord.started_at >= period.start_utc,
               CallRecord.started_at < period.end_utc, CallRecord.ended_at.is_not(None))
        .group_by(CallRecord.id))
    return [CallFact(started_at=as_utc(started), branch=branch or NO_BRANCH, outcome=outcome,
                     choices=choices, spoken_choices=spoken, intents_heard=intents,
                     confirmations=confirmations)
            for started, outcome, choices, spoken, intents, confirmations, branch in rows.all()]


async def agent_times(session: AsyncSession, period: Period) -> list[AgentTime]:
    """Each agent's time per state within the period, cut into the report's intervals, from
    the state history (the state an agent was in when the period began counts from its
    start; the current state counts until now)."""
    conn = await session.connection()
    agents = {agent_id: (number, center) for agent_id, number, center in await conn.execute(
        select(Agent.id, Agent.number, Center.name)
        .join(Center, Center.id == Agent.center_id, isouter=True))}
    # The period's events, and each agent's last one before it (the state it began in).
    before = select(func.max(AgentStateEvent.id)).where(
        AgentStateEvent.at < period.start_utc).group_by(AgentStateEvent.agent_id)
    events = await conn.execute(
        select(AgentStateEvent.agent_id, AgentStateEvent.state, AgentStateEvent.reason,
               AgentStateEvent.at).where(
            or_(AgentStateEvent.id.in_(before),
                and_(AgentStateEvent.at >= period.start_utc,
                     AgentStateEvent.at < period.end_utc)))
        .order_by(AgentStateEvent.agent_id, AgentStateEvent.at, AgentStateEvent.id))
    by_agent: dict[int, list[tuple[AgentStateName, str | None, datetime]]] = defaultdict(list)
    for agent_id, state, reason, at in events.all():
        by_agent[agent_id].append((state, reason, as_utc(at)))
    until = min(period.end, now())
    times: dict[tuple[str, datetime], AgentTime] = {}
    for agent_id, evs in by_agent.items():
        number, center = agents.get(agent_id, (str(agent_id), None))
        for (state, reason, begin), nxt in zip(evs, [*evs[1:], None], strict=True):
            finish = nxt[2] if nxt is not None else until
            if finish <= period.start or state == AgentStateName.LOGGED_OUT:
                continue
            for bucket, seconds in period.split(begin, finish):
                t = times.setdefault((number, bucket), AgentTime(number, center, bucket))
                t.states[state.value] += seconds
                if state == AgentStateName.PAUSED:
                    t.pauses[reason or "-"] += seconds
    return list(times.values())
