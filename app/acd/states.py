"""Agent states: allowed transitions, history, missed-call auto-pause, and one snapshot query.

logged_out → ready; ready ↔ paused; ready → ringing → on_call → wrap_up → ready;
ringing → ready on no answer (→ paused 未接 after two in a row); ringing → paused 离线 when
the agent's phone cannot be rung at all (not registered); wrap_up → paused;
any → logged_out. Every change is kept in agent_state_events with who made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.clock import as_utc, now
from app.db.models import Agent, AgentState, AgentStateEvent, AgentStateName

S = AgentStateName
ALLOWED: dict[AgentStateName, frozenset[AgentStateName]] = {
    S.LOGGED_OUT: frozenset({S.READY}),
    S.READY: frozenset({S.PAUSED, S.RINGING}),
    S.PAUSED: frozenset({S.READY, S.PAUSED}),  # paused → paused changes the reason
    S.RINGING: frozenset({S.ON_CALL, S.READY}),
    S.ON_CALL: frozenset({S.WRAP_UP}),
    S.WRAP_UP: frozenset({S.READY, S.PAUSED}),
}
PAUSE_REASONS = ("小休", "用餐", "培训", "会议", "未接", "离线")
DEFAULT_PAUSE = "小休"
MISSED = "未接"
OFFLINE = "离线"  # the phone is not registered: ringing it again would fail again
MISSES_BEFORE_PAUSE = 2
CHANGED_BY = ("self", "supervisor", "feature_code", "system")


class StateError(ValueError):
    """A state change that is not allowed now; the message says why."""


async def _current(session: AsyncSession, agent: Agent) -> AgentState:
    # Changes the caller made (an agent leg's) are flushed with the state's, not before this
    # read: on SQLite the first flush takes the write lock, held through every later statement.
    with session.no_autoflush:
        # populate_existing: the row as it is once locked, not the copy this session may
        # have loaded before (two nodes ringing one agent would both see it ready).
        row = await session.scalar(
            select(AgentState).where(AgentState.agent_id == agent.id).with_for_update()
            .execution_options(populate_existing=True)
        )
    if row is None:  # an agent made before states were kept starts logged out
        row = AgentState(agent_id=agent.id, state=S.LOGGED_OUT, since=now(), missed_in_row=0)
        session.add(row)
        await session.flush()
    return row


def _apply(session: AsyncSession, row: AgentState, state: AgentStateName,
           reason: str | None, by: str) -> None:
    at = now()
    if state == S.WRAP_UP:  # the call ended: longest-idle counts from here
        row.last_call_end_at = at
    if state in (S.ON_CALL, S.LOGGED_OUT):
        row.missed_in_row = 0
    row.state, row.reason, row.since = state, reason, at
    session.add(AgentStateEvent(agent_id=row.agent_id, state=state, reason=reason, at=at, by=by))


async def set_state(
    session: AsyncSession,
    agent: Agent,
    state: AgentStateName | str,
    reason: str | None = None,
    by: str = "self",
) -> AgentState:
    """Move the agent to state if allowed; same state again is a no-op (no history row)."""
    target = AgentStateName(state)
    if by not in CHANGED_BY:
        raise ValueError(f"by must be one of {', '.join(CHANGED_BY)}")
    if target == S.PAUSED:
        reason = reason or DEFAULT_PAUSE
        if reason not in PAUSE_REASONS:
            raise StateError(
                f"pause reason {reason!r} is not known; use one of {', '.join(PAUSE_REASONS)}"
            )
    else:
        reason = None
    if not agent.enabled and target != S.LOGGED_OUT:
        raise StateError(f"agent {agent.number} is disabled")
    row = await _current(session, agent)
    if row.state == target and row.reason == reason:
        return row
    if target != S.LOGGED_OUT and target not in ALLOWED[row.state]:
        raise StateError(
            f"agent {agent.number} is {row.state.value}: cannot go to {target.value} "
            f"(allowed: {', '.join(sorted(s.value for s in ALLOWED[row.state])) or 'none'}, "
            "logged_out)"
        )
    _apply(session, row, target, reason, by)
    await session.flush()
    return row


async def force_logged_out(session: AsyncSession, agent: Agent, by: str) -> None:
    row = await _current(session, agent)
    if row.state != S.LOGGED_OUT:
        _apply(session, row, S.LOGGED_OUT, None, by)
        await session.flush()


async def record_no_answer(session: AsyncSession, agent: Agent) -> AgentState:
    """A ringing agent did not answer: back to ready, or paused (未接) after two in a row."""
    row = await _current(session, agent)
    if row.state != S.RINGING:
        raise StateError(f"agent {agent.number} is {row.state.value}, not ringing")
    row.missed_in_row += 1
    if row.missed_in_row >= MISSES_BEFORE_PAUSE:
        _apply(session, row, S.PAUSED, MISSED, "system")
    else:
        _apply(session, row, S.READY, None, "system")
    await session.flush()
    return row


async def record_unreachable(session: AsyncSession, agent: Agent) -> AgentState:
    """The agent's phone could not be rung at all (not registered): paused (离线) at once,
    instead of being offered the next caller every round. The agent says ready again once the
    phone is back."""
    row = await _current(session, agent)
    if row.state != S.RINGING:
        raise StateError(f"agent {agent.number} is {row.state.value}, not ringing")
    _apply(session, row, S.PAUSED, OFFLINE, "system")
    await session.flush()
    return row


@dataclass(frozen=True)
class AgentSnapshot:
    number: str
    name: str
    center: str
    center_code: str
    expert: bool
    enabled: bool
    state: AgentStateName
    reason: str | None
    since: datetime | None
    last_call_end_at: datetime | None
    missed_in_row: int
    skills: dict[str, int] = field(default_factory=dict)


async def agent_snapshot(session: AsyncSession, number: str | None = None) -> list[AgentSnapshot]:
    """Every agent (or one) with state, since, last call end, skills and center, by 工号."""
    query = (
        select(Agent, AgentState)
        .outerjoin(AgentState, AgentState.agent_id == Agent.id)
        .options(selectinload(Agent.skills), selectinload(Agent.center))
        .order_by(Agent.number)
        .execution_options(populate_existing=True)
    )
    if number is not None:
        query = query.where(Agent.number == number)
    out: list[AgentSnapshot] = []
    for agent, st in await session.execute(query):
        out.append(AgentSnapshot(
            number=agent.number,
            name=agent.name,
            center=agent.center.name,
            center_code=agent.center.code,
            expert=agent.expert,
            enabled=agent.enabled,
            state=st.state if st else S.LOGGED_OUT,
            reason=st.reason if st else None,
            since=as_utc(st.since) if st else None,
            last_call_end_at=as_utc(st.last_call_end_at) if st else None,
            missed_in_row=st.missed_in_row if st else 0,
            skills={s.skill: s.level for s in agent.skills},
        ))
    return out


async def state_history(session: AsyncSession, agent: Agent) -> list[AgentStateEvent]:
    return list(await session.scalars(
        select(AgentStateEvent).where(AgentStateEvent.agent_id == agent.id)
        .order_by(AgentStateEvent.id)
    ))
