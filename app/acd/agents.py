"""Centers and agents: create, list, skills, disable, passwords (used by the CLI and the API).

An agent is a 工号 with a SIP identity (HA1 only) and an API user of role agent named by the
工号 with the same password (salted scrypt). The caller commits; SIP provisioning follows the
commit (app.acd.provisioning).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.acd.identity import IdentityError, check_level, check_number, sip_ha1
from app.core.clock import now
from app.db.models import (
    Agent,
    AgentSkill,
    AgentState,
    AgentStateEvent,
    AgentStateName,
    Center,
    Role,
    User,
)
from app.services.auth import hash_password

MIN_PASSWORD = 8


class AgentError(IdentityError):
    """An agent request that cannot be done; the message says why and what to do."""


class AgentNotFound(AgentError):
    pass


@dataclass(frozen=True)
class NewAgent:
    agent: Agent
    # Only set when it was generated: shown once, never stored or logged.
    generated_password: str | None


async def list_centers(session: AsyncSession) -> list[Center]:
    return list(await session.scalars(select(Center).order_by(Center.id)))


async def center_by_name(session: AsyncSession, name: str) -> Center:
    centers = await list_centers(session)
    for center in centers:
        if name in (center.name, center.code):
            return center
    known = ", ".join(f"{c.name} ({c.code})" for c in centers) or "none (seed the demo data)"
    raise AgentError(f"unknown center {name!r}; known centers: {known}")


async def set_timezone(session: AsyncSession, name: str, zone: str) -> Center:
    """A center's IANA time zone (its shifts and days are read in it)."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AgentError(f"unknown time zone {zone!r}: use an IANA name such as "
                         "Asia/Shanghai") from None
    center = await center_by_name(session, name)
    center.timezone = zone
    await session.flush()
    return center


def _agents_query() -> Select[Agent]:
    return select(Agent).options(selectinload(Agent.skills), selectinload(Agent.center))


async def list_agents(session: AsyncSession) -> list[Agent]:
    return list(await session.scalars(_agents_query().order_by(Agent.number)))


async def get_agent(session: AsyncSession, number: str) -> Agent:
    agent = await session.scalar(_agents_query().where(Agent.number == number))
    if agent is None:
        raise AgentNotFound(f"no agent {number}: create it with `hotline agents create {number}`")
    return agent


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AgentError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    return password


def generate_password() -> str:
    # Digits and letters a softphone keypad or a login form takes without trouble.
    return secrets.token_urlsafe(9)


async def create_agent(
    session: AsyncSession,
    number: str,
    *,
    name: str,
    center: str,
    skills: dict[str, int] | None = None,
    expert: bool = False,
    password: str | None = None,
) -> NewAgent:
    check_number(number)
    if not name.strip():
        raise AgentError("give the agent a name (--name)")
    home = await center_by_name(session, center)
    if await session.scalar(select(Agent.id).where(Agent.number == number)) is not None:
        raise AgentError(f"agent {number} exists already (`hotline agents list`)")
    if await session.scalar(select(User.id).where(User.name == number)) is not None:
        raise AgentError(f"an API user named {number} exists already; pick another 工号")
    generated = None if password else generate_password()
    secret = check_password(password) if password else generated
    assert secret is not None
    at = now()
    user = User(name=number, role=Role.AGENT, active=True, created_at=at,
                password_hash=hash_password(secret))
    session.add(user)
    await session.flush()
    agent = Agent(number=number, name=name.strip(), center_id=home.id, expert=expert,
                  enabled=True, sip_ha1=sip_ha1(number, secret), user_id=user.id,
                  created_at=at)
    agent.skills = [AgentSkill(skill=s, level=check_level(s, lv))
                    for s, lv in sorted((skills or {}).items())]
    session.add(agent)
    await session.flush()
    session.add(AgentState(agent_id=agent.id, state=AgentStateName.LOGGED_OUT, since=at,
                           missed_in_row=0))
    session.add(AgentStateEvent(agent_id=agent.id, state=AgentStateName.LOGGED_OUT, at=at,
                                by="system"))
    await session.flush()
    return NewAgent(await get_agent(session, number), generated)


async def set_skills(session: AsyncSession, number: str, skills: dict[str, int]) -> Agent:
    """Replace the agent's skills with these (skill -> level)."""
    agent = await get_agent(session, number)
    current = {s.skill: s for s in agent.skills}
    for skill, level in skills.items():
        check_level(skill, level)
        if skill in current:
            current[skill].level = level
        else:
            agent.skills.append(AgentSkill(skill=skill, level=level))
    for skill, row in current.items():
        if skill not in skills:
            agent.skills.remove(row)
    await session.flush()
    return agent


async def disable_agent(session: AsyncSession, number: str) -> Agent:
    """No more calls, no SIP registration, no API login; the history stays."""
    from app.acd.states import force_logged_out

    agent = await get_agent(session, number)
    agent.enabled = False
    if agent.user_id is not None:
        user = await session.get(User, agent.user_id)
        if user is not None:
            user.active = False
    await force_logged_out(session, agent, by="supervisor")
    await session.flush()
    return agent


async def set_password(session: AsyncSession, number: str, password: str | None) -> str | None:
    """New SIP and API password; returns it when generated (to show once), else None."""
    agent = await get_agent(session, number)
    generated = None if password else generate_password()
    secret = check_password(password) if password else generated
    assert secret is not None
    agent.sip_ha1 = sip_ha1(number, secret)
    if agent.user_id is not None:
        user = await session.get(User, agent.user_id)
        if user is not None:
            user.password_hash = hash_password(secret)
    await session.flush()
    return generated


async def sip_accounts(session: AsyncSession) -> list[tuple[str, str]]:
    """(工号, HA1) of every enabled agent: what the PBX's pjsip_agents.conf holds."""
    rows = await session.execute(
        select(Agent.number, Agent.sip_ha1).where(Agent.enabled.is_(True)).order_by(Agent.number)
    )
    return [(n, h) for n, h in rows]
