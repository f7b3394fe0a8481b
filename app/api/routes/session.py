"""The web pages' login: name + password -> an HttpOnly session cookie (a short-lived API token
of the user, so every route's role checks apply to the pages unchanged).

An agent logs in with its 工号 and the one password it also registers its softphone with.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.api.deps import SESSION_COOKIE, Session, request_token, require
from app.api.errors import ApiError, documented
from app.db.models import Agent, Role
from app.services.auth import Principal, check_login, hash_token, issue_token, revoke_session
from app.services.token_cache import TokenCache

router = APIRouter(prefix="/api/v1/session", tags=["session"])
Anyone = Annotated[Principal, Depends(require(*Role))]


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=60, description="user name, or an agent's 工号")
    password: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    username: str | None = Field(description="null when nobody is logged in")
    role: str | None
    agent: str | None = Field(None, description="the 工号 when the user is an agent")
    agent_name: str | None = None


async def _out(session: Session, user: Principal) -> SessionOut:
    agent = None
    if user.role == Role.AGENT:
        agent = await session.scalar(select(Agent).where(Agent.number == user.name))
    return SessionOut(username=user.name, role=user.role.value,
                      agent=agent.number if agent else None,
                      agent_name=agent.name if agent else None)


@router.post("", summary="Log in (sets the session cookie)", response_model=SessionOut,
             responses=documented(401, 422))
async def login(body: LoginIn, request: Request, response: Response,
                session: Session) -> SessionOut:
    user = await check_login(session, body.username, body.password)
    if user is None:
        raise ApiError(401, "login_failed", "wrong user name or password")
    hours = request.app.state.settings.session_hours
    token = await issue_token(session, user.name, days=hours / 24)
    await session.commit()
    response.set_cookie(SESSION_COOKIE, token, max_age=int(hours * 3600), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    principal = Principal(user.id, user.name, user.role, None)
    return await _out(session, principal)


@router.get("", summary="Who is logged in (all fields null: nobody)", response_model=SessionOut)
async def whoami(request: Request, session: Session) -> SessionOut:
    # Not a 401 for nobody: a page asks this first, and a browser logs every 401 as an error.
    token = request_token(request)
    tokens: TokenCache = request.app.state.token_cache
    user = await tokens.principal(request.app.state.db, token) if token else None
    if user is None:
        return SessionOut(username=None, role=None)
    return await _out(session, user)


@router.delete("", summary="Log out (ends this session's token)", status_code=204,
               responses=documented(401))
async def logout(request: Request, response: Response, session: Session,
                 user: Anyone) -> Response:
    await revoke_session(session, hash_token(request_token(request)))
    await session.commit()
    cache: TokenCache = request.app.state.token_cache
    cache.forget(request_token(request))
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
