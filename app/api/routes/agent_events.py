"""An agent's live event stream: state changes and the screen pop of each ringing call.

WebSocket `/api/v1/agents/{no}/events`, for the agent itself or a supervisor. The token comes
in the `Authorization: Bearer` header or, for browsers (which cannot set headers on a
WebSocket), as the pages' login cookie or `?token=`. The first message is the agent's current state.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.encoders import jsonable_encoder

from app.acd.states import agent_snapshot
from app.api.deps import SESSION_COOKIE
from app.db.models import Role
from app.db.session import Database
from app.events import PlatformEvent, concerns_agent
from app.services.auth import Principal, authenticate

router = APIRouter()
WATCHERS = {Role.SUPERVISOR, Role.ADMIN}
# WebSocket close codes (4000-4999 are the application's): like 401, 403 and 404.
UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, UNAVAILABLE = 4401, 4403, 4404, 4503


def _token(ws: WebSocket) -> str:
    scheme, _, token = ws.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return ws.query_params.get("token", "") or ws.cookies.get(SESSION_COOKIE, "")


async def accept_watcher(ws: WebSocket, roles: set[Role], what: str) -> Principal | None:
    """Accept a watching socket and identify its user (token or login cookie); a missing
    token or a role not in `roles` is closed with its code and None is returned."""
    token = _token(ws)
    user = None
    if token:
        async with ws.app.state.db.session() as session:
            user = await authenticate(session, token)
    await ws.accept()  # first, so a refusal carries its code and reason
    if user is None:
        await ws.close(UNAUTHENTICATED, "log in, or send an API token (Authorization header "
                       "or ?token=)")
        return None
    if user.role not in roles:
        await ws.close(FORBIDDEN, f"role {user.role.value} may not watch {what}")
        return None
    return user


@router.websocket("/api/v1/agents/{number}/events")
async def agent_events(ws: WebSocket, number: str) -> None:
    db: Database = ws.app.state.db
    platform = ws.app.state.platform
    async with db.session() as session:
        user = await authenticate(session, _token(ws)) if _token(ws) else None
        snapshot = await agent_snapshot(session, number)
    # Accepted first, so a refusal carries its code and reason (browsers see no HTTP status).
    await ws.accept()
    if user is None:
        await ws.close(UNAUTHENTICATED, "send an API token (Authorization header or ?token=)")
        return
    if user.role not in WATCHERS and not (user.role == Role.AGENT and user.name == number):
        await ws.close(FORBIDDEN, f"role {user.role.value} may not watch agent {number}")
        return
    if not snapshot:
        await ws.close(NOT_FOUND, f"no agent {number}")
        return
    if platform is None:
        await ws.close(UNAVAILABLE, "no live events on an API-only node")
        return
    reader: asyncio.Task[None] | None = None
    sub = platform.events.subscribe(lambda e: concerns_agent(e, number))
    try:
        now = snapshot[0]
        await ws.send_json(jsonable_encoder({
            "kind": "agent.snapshot", "agent": number, "state": now.state.value,
            "reason": now.reason, "since": now.since}))
        reader = asyncio.create_task(_drain(ws))
        while not reader.done():
            event = await sub.get(timeout=1.0)
            if event is not None:
                await ws.send_json(_json(event))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sub.close()
        if reader is not None:
            reader.cancel()


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.receive_text()


def _json(event: PlatformEvent) -> Any:
    return jsonable_encoder(event.as_dict())

