"""The live PBX for telecom engineers: its channels and bridges now (over ARI), the callers
waiting in each queue, and a WebSocket of AMI events filtered by type.

WebSocket `/api/v1/pbx/events?types=Newchannel,Hangup`: the token comes in the
`Authorization: Bearer` header or, for browsers, as the pages' login cookie or `?token=`.
The first message is `{"kind": "pbx.subscribed", "types": [...], "ami_connected": ...}`; then
each event as `{"kind": "ami.event", "type": "Hangup", "fields": {...}}` (the AMI fields,
passengers' numbers masked), and `{"kind": "ami.dropped", "count": N}` when the stream read
too slowly and lost N events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect

from app.acd.queue_waits import QueueWaits, queue_waits
from app.ami.feed import AmiEventFeed, BadEventTypes, parse_types
from app.api.deps import Session, require, roles_doc
from app.api.errors import ApiError, documented
from app.api.routes.agent_events import (
    UNAVAILABLE,
    _drain,
    accept_watcher,
)
from app.ari_handlers.rest import AriError, AriRest
from app.core.clock import now
from app.db.models import Role
from app.pbx.live import BridgeView, ChannelView, bridges_now, channels_now
from app.services.auth import Principal

router = APIRouter(prefix="/api/v1/pbx", tags=["live PBX"], responses=documented(401, 403))
Engineer = Annotated[Principal, Depends(require(Role.ENGINEER))]
WATCHERS = {Role.ENGINEER, Role.ADMIN}
BAD_REQUEST = 4400  # WebSocket close code, like 400
NO_TELEPHONY = "no PBX on an API-only node: ask the node running `hotline serve`"


def _rest(request: Request) -> AriRest:
    platform = request.app.state.platform
    if platform is None:
        raise ApiError(503, "unavailable", NO_TELEPHONY)
    rest: AriRest = platform.ari.rest
    return rest


T = TypeVar("T")


async def _ask(reading: Awaitable[T]) -> T:
    try:
        return await reading
    except AriError as exc:
        raise ApiError(503, "pbx_unavailable", f"the PBX did not answer: {exc}") from None


@router.get("/channels", summary="Every channel on the PBX now",
            description="Each channel with its state, caller, dialplan place, the application "
            "it runs (Stasis while the platform has it), duration and bridge; the oldest "
            "first. " + roles_doc(Role.ENGINEER),
            responses=documented(503, e503="API-only node, or the PBX does not answer"))
async def list_channels(request: Request, _: Engineer) -> list[ChannelView]:
    return await _ask(channels_now(_rest(request), now()))


@router.get("/bridges", summary="Every bridge on the PBX now",
            description="Each bridge with its type and technology, its channels and age; the "
            "oldest first. " + roles_doc(Role.ENGINEER),
            responses=documented(503, e503="API-only node, or the PBX does not answer"))
async def list_bridges(request: Request, _: Engineer) -> list[BridgeView]:
    return await _ask(bridges_now(_rest(request), now()))


@router.get("/queues", summary="Callers waiting in each queue now",
            description="Queues with callers waiting (an agent may be ringing for one), each "
            "caller with its wait; from the database, so every node answers for all nodes. "
            + roles_doc(Role.ENGINEER))
async def list_queue_waits(session: Session, _: Engineer) -> list[QueueWaits]:
    return await queue_waits(session, now())


@router.websocket("/events")
async def pbx_events(ws: WebSocket) -> None:
    user = await accept_watcher(ws, WATCHERS, "PBX events")
    if user is None:
        return
    try:
        types = parse_types(ws.query_params.get("types"))
    except BadEventTypes as exc:
        await ws.close(BAD_REQUEST, str(exc)[:120])  # a close reason is at most 123 bytes
        return
    platform = ws.app.state.platform
    if platform is None:
        await ws.close(UNAVAILABLE, "no PBX events on an API-only node")
        return
    feed: AmiEventFeed = platform.ami_events
    watcher = feed.watch(types)
    reader = asyncio.create_task(_drain(ws))
    try:
        await ws.send_json({"kind": "pbx.subscribed",
                            "types": sorted(types) if types is not None else None,
                            "ami_connected": platform.ami.connected})
        while not reader.done():
            event = await watcher.next(timeout=1.0)
            if watcher.dropped:
                lost, watcher.dropped = watcher.dropped, 0
                await ws.send_json({"kind": "ami.dropped", "count": lost})
            if event is not None:
                await ws.send_json({"kind": "ami.event", "type": event.get("Event", ""),
                                    "fields": event})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        feed.leave(watcher)
        reader.cancel()
