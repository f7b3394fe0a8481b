"""The supervisor wallboard: `GET /api/v1/wall` (the snapshot), the WebSocket
`/api/v1/wall/ws` (a snapshot, then each change within a fraction of a second), and listening
in on an agent's call: `POST /api/v1/agents/{no}/listen|whisper|barge`.

The WebSocket takes the token in the `Authorization: Bearer` header or, for browsers, the
pages' login cookie or `?token=`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field

from app.acd.agents import AgentNotFound, get_agent
from app.api.deps import get_database, require, roles_doc
from app.api.errors import ApiError, documented
from app.api.routes.agent_events import (
    UNAVAILABLE,
    _drain,
    accept_watcher,
)
from app.db.models import Role
from app.services.auth import Principal
from app.wall.live import CLOSED, Wall, encode
from app.wall.monitor import ENDPOINT, MODES, MonitorError, Monitors

router = APIRouter(tags=["wallboard"], responses=documented(401, 403))
WATCHERS = {Role.SUPERVISOR, Role.ADMIN}
Supervisor = Annotated[Principal, Depends(require(Role.SUPERVISOR))]


def _wall(platform: Any) -> Wall | None:
    return getattr(platform, "wall", None) if platform is not None else None


@router.get("/api/v1/wall", summary="The wallboard now: tiles per queue and center, agents",
            responses=documented(503, e503="no live figures on an API-only node"),
            description=roles_doc(Role.SUPERVISOR) + " The same body as the WebSocket's first "
            "message (`kind` wall.snapshot).")
async def wall_snapshot(request: Request, user: Supervisor) -> dict[str, Any]:
    wall = _wall(request.app.state.platform)
    if wall is None:
        raise ApiError(503, "unavailable", "no live figures on an API-only node: "
                       "ask the node running `hotline serve`")
    return wall.snapshot()


@router.websocket("/api/v1/wall/ws")
async def wall_socket(ws: WebSocket) -> None:
    user = await accept_watcher(ws, WATCHERS, "the wallboard")
    if user is None:
        return
    wall = _wall(ws.app.state.platform)
    if wall is None:
        await ws.close(UNAVAILABLE, "no live figures on an API-only node")
        return
    screen = wall.connect()
    # The reader notices the screen going away and stops the sender below through its outbox.
    reader = asyncio.create_task(_drain(ws))
    reader.add_done_callback(lambda _: screen.close())
    try:
        await ws.send_text(encode(wall.snapshot()))
        while (text := await screen.next()) != CLOSED:
            await ws.send_text(text if text is not None else encode(wall.snapshot()))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        wall.disconnect(screen)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


class PhoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointIn(PhoneIn):
    endpoint: str = Field(pattern=ENDPOINT.pattern, description="the supervisor's phone",
                          examples=["PJSIP/agent-1009"])

    def target(self) -> str:
        return self.endpoint


class OwnPhoneIn(PhoneIn):
    agent: str = Field(pattern=r"^[0-9]{4,6}$",
                       description="the supervisor's own 工号: its softphone rings")

    def target(self) -> str:
        return f"PJSIP/agent-{self.agent}"


class MonitorOut(BaseModel):
    session: str
    agent: str
    mode: str
    endpoint: str
    call_id: str
    state: str


def _monitor_route(mode: str) -> None:
    what = {"listen": "hear caller and agent", "whisper": "talk to the agent only (the caller "
            "does not hear)", "barge": "join the call: caller and agent both hear"}[mode]

    @router.post(
        f"/api/v1/agents/{{number}}/{mode}", response_model=MonitorOut, status_code=202,
        tags=["agents"], summary=f"{mode.capitalize()}: ring the supervisor's phone to {what}",
        responses=documented(404, 409, 503, e404="no such agent",
                             e409="the agent is not on a call, or the phone is already "
                             "listening in or cannot be rung"),
        description=roles_doc(Role.SUPERVISOR) + " The supervisor's phone rings; once it "
        "answers, it is connected until it hangs up or the agent's call ends. The wallboard "
        "marks the agent as monitored meanwhile.",
    )
    async def monitor(number: str, body: EndpointIn | OwnPhoneIn, request: Request,
                      user: Supervisor) -> MonitorOut:
        monitors: Monitors | None = getattr(request.app.state.platform, "monitors", None)
        if monitors is None:
            raise ApiError(503, "unavailable", "listening in needs the node running "
                           "`hotline serve`")
        async with get_database(request).session() as db_session:
            try:
                await get_agent(db_session, number)
            except AgentNotFound:
                raise ApiError(404, "agent_not_found", f"no agent {number}") from None
        try:
            session = await monitors.start(number, mode, body.target(), user.name)
        except MonitorError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None
        return MonitorOut.model_validate(session.as_dict())

    monitor.__name__ = f"monitor_{mode}"


for _mode in MODES:
    _monitor_route(_mode)
