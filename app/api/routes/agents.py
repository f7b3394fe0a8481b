"""Agents 坐席 and their states: the supervisor's list, one agent, and state changes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from app.acd import states
from app.acd.agents import AgentNotFound, get_agent
from app.acd.states import AgentSnapshot, StateError
from app.api.deps import Session, require, roles_doc
from app.api.errors import ApiError, documented
from app.api.schemas import UtcDatetime
from app.db.models import Role
from app.events import AgentStateChanged
from app.services.auth import Principal

router = APIRouter(prefix="/api/v1/agents", tags=["agents"], responses=documented(401, 403))
WATCH = (Role.SUPERVISOR, Role.ENGINEER)
ONE = (Role.AGENT, Role.SUPERVISOR, Role.ENGINEER)
CHANGE = (Role.AGENT, Role.SUPERVISOR)
Watcher = Annotated[Principal, Depends(require(*WATCH))]
Reader = Annotated[Principal, Depends(require(*ONE))]
Changer = Annotated[Principal, Depends(require(*CHANGE))]


class AgentOut(BaseModel):
    number: str = Field(description="工号")
    name: str
    center: str
    center_code: str
    expert: bool
    enabled: bool
    state: str
    reason: str | None
    since: UtcDatetime | None
    last_call_end_at: UtcDatetime | None
    missed_in_row: int
    skills: dict[str, int]


class StateIn(BaseModel):
    state: Literal["ready", "paused", "logged_out"]
    reason: str | None = Field(
        None, description="pause reason: " + ", ".join(states.PAUSE_REASONS) + " (default 小休)"
    )


def _out(s: AgentSnapshot) -> AgentOut:
    return AgentOut(number=s.number, name=s.name, center=s.center, center_code=s.center_code,
                    expert=s.expert, enabled=s.enabled, state=s.state.value, reason=s.reason,
                    since=s.since, last_call_end_at=s.last_call_end_at,
                    missed_in_row=s.missed_in_row, skills=s.skills)


def _only_self(user: Principal, number: str) -> None:
    """An agent sees and changes only itself."""
    if user.role == Role.AGENT and user.name != number:
        raise ApiError(403, "forbidden", f"agent {user.name} may not act for agent {number}")


async def _one(session: Session, number: str) -> AgentOut:
    found = await states.agent_snapshot(session, number)
    if not found:
        raise ApiError(404, "agent_not_found", f"no agent {number}")
    return _out(found[0])


@router.get("", summary="All agents with state, skills and center", description=roles_doc(*WATCH),
            response_model=list[AgentOut])
async def list_agents(session: Session, user: Watcher) -> list[AgentOut]:
    return [_out(s) for s in await states.agent_snapshot(session)]


@router.get("/{number}", summary="One agent", response_model=AgentOut,
            responses=documented(404, e404="no such agent"),
            description=roles_doc(*ONE) + " An agent reads only itself.")
async def one_agent(number: str, session: Session, user: Reader) -> AgentOut:
    _only_self(user, number)
    return await _one(session, number)


@router.post(
    "/{number}/state", summary="Log in (ready), pause with a reason, or log out",
    responses=documented(404, 409, e404="no such agent"),
    response_model=AgentOut,
    description=roles_doc(*CHANGE) + " An agent changes only its own state. 409 when the change "
    "is not allowed now (e.g. pause while logged out, or any change during a call except "
    "logged_out).",
)
async def change_state(number: str, body: StateIn, session: Session, user: Changer,
                       request: Request) -> AgentOut:
    _only_self(user, number)
    try:
        agent = await get_agent(session, number)
    except AgentNotFound:
        raise ApiError(404, "agent_not_found", f"no agent {number}") from None
    by = "self" if user.name == number else "supervisor"
    try:
        await states.set_state(session, agent, body.state, body.reason, by=by)
    except StateError as exc:
        raise ApiError(409, "state_conflict", str(exc)) from None
    await session.commit()
    out = await _one(session, number)
    platform = request.app.state.platform
    if platform is not None:  # the desk, the wallboard and the distributor hear it at once
        platform.events.publish(AgentStateChanged(agent=number, state=out.state,
                                                  reason=out.reason))
    return out
