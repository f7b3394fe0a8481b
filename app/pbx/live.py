"""What the running PBX holds now, for engineers: its channels and bridges (read over ARI,
which lists every channel and bridge, not only the Stasis app's), and how long each has lasted.

Numbers of passengers are masked; short numbers (agents' 工号, extensions, the hotline's own
numbers) are not personal data and stay readable.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from pydantic import BaseModel, Field

from app.ari_handlers.models import Bridge, Channel
from app.ari_handlers.rest import AriRest
from app.core.clock import as_utc
from app.services.masking import mask_phone, mask_text

PERSONAL_DIGITS = 7  # a number this long or longer may be a passenger's phone


class ChannelView(BaseModel):
    id: str = Field(description="the PBX channel id (a call's id for the caller's channel)")
    name: str = Field(examples=["PJSIP/sipp-00000001"])
    state: str = Field(examples=["Up", "Ring", "Ringing"])
    caller: str = Field(description="caller number; a passenger's is masked")
    context: str = Field(description="dialplan context it is in")
    exten: str
    app: str = Field(description="the dialplan application it runs: Stasis while the "
                     "platform has it, Dial, Playback, ...")
    app_data: str = Field(description="the application's arguments (for Stasis: the app "
                          "name and its arguments)")
    created_at: datetime | None
    duration_seconds: int = Field(description="seconds since the channel was created")
    bridge_id: str | None = Field(description="the bridge it is in, if any")


class BridgeView(BaseModel):
    id: str
    name: str
    type: str = Field(description="mixing or holding", examples=["mixing"])
    technology: str = Field(examples=["simple_bridge", "softmix", "holding_bridge"])
    bridge_class: str = Field(description="stasis when the platform made it")
    channels: list[str] = Field(description="ids of the channels in it")
    created_at: datetime | None
    age_seconds: int


def shown_number(number: str) -> str:
    """A caller number as engineers see it: passengers' masked, short numbers as they are."""
    if len(number) < PERSONAL_DIGITS:
        return number
    return mask_phone(number) or ""


def seconds_since(created: datetime | None, now: datetime) -> int:
    """Whole seconds from `created` to `now` (0 when unknown or when clocks disagree)."""
    if created is None:
        return 0
    return max(0, int((now - as_utc(created)).total_seconds()))


def channel_view(channel: Channel, now: datetime, bridge_of: dict[str, str]) -> ChannelView:
    plan = channel.dialplan
    return ChannelView(
        id=channel.id, name=channel.name, state=channel.state,
        caller=shown_number(channel.caller.number),
        context=plan.context if plan else "", exten=plan.exten if plan else "",
        app=plan.app_name if plan else "", app_data=mask_text(plan.app_data) if plan else "",
        created_at=channel.creationtime, duration_seconds=seconds_since(channel.creationtime, now),
        bridge_id=bridge_of.get(channel.id),
    )


def bridge_view(bridge: Bridge, now: datetime) -> BridgeView:
    return BridgeView(
        id=bridge.id, name=bridge.name, type=bridge.bridge_type, technology=bridge.technology,
        bridge_class=bridge.bridge_class, channels=list(bridge.channels),
        created_at=bridge.creationtime, age_seconds=seconds_since(bridge.creationtime, now),
    )


def bridge_membership(bridges: list[Bridge]) -> dict[str, str]:
    """Channel id -> the bridge it is in."""
    return {ch: b.id for b in bridges for ch in b.channels}


async def channels_now(rest: AriRest, now: datetime) -> list[ChannelView]:
    """Every channel, the oldest first, each with its bridge."""
    channels, bridges = await asyncio.gather(rest.list_channels(), rest.list_bridges())
    members = bridge_membership(bridges)
    views = [channel_view(c, now, members) for c in channels]
    return sorted(views, key=lambda v: (-v.duration_seconds, v.name))


async def bridges_now(rest: AriRest, now: datetime) -> list[BridgeView]:
    """Every bridge, the oldest first."""
    views = [bridge_view(b, now) for b in await rest.list_bridges()]
    return sorted(views, key=lambda v: (-v.age_seconds, v.id))
