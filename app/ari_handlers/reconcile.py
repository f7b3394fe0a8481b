"""What our Stasis app holds on the PBX that no call task owns: after a crash and restart of the
platform every channel and bridge of the calls in progress, after a reconnect any call whose
StasisStart was missed. Sorted into callers to adopt (with the agent they were talking to, if
any), helper channels to hang up and bridges to destroy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.ari_handlers.models import Bridge, Channel
from app.ari_handlers.rest import AriRest

LEG = "agent"  # first Stasis argument of an agent's leg of a call: agent,<call id>
AGENT_PHONES = "PJSIP/agent-"
# Channels the PBX makes for a call's media (listening taps, announcements, local halves):
# never callers themselves.
HELPERS = ("Snoop/", "AudioSocket/", "UnicastRTP/", "Announcer/", "Recorder/", "Local/")


@dataclass(frozen=True)
class TalkLeft:
    """A caller and an agent still bridged: the conversation goes on under a new task.
    `held`: the caller was on hold (in a holding bridge, the agent alone in the talk bridge);
    the new task brings the caller back to the agent."""

    bridge_id: str
    agent_channel: str
    held: bool = False


@dataclass
class Leftovers:
    callers: list[Channel] = field(default_factory=list)
    talks: dict[str, TalkLeft] = field(default_factory=dict)  # caller channel id -> its talk
    hang_up: list[Channel] = field(default_factory=list)
    destroy: list[Bridge] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.callers or self.hang_up or self.destroy)


def stasis_args(channel: Channel, app: str) -> list[str] | None:
    """The channel's Stasis arguments when it is in our app, else None."""
    plan = channel.dialplan
    if plan is None or plan.app_name != "Stasis":
        return None
    name, *args = plan.app_data.split(",")
    return args if name == app else None


def _call_of(leg: Channel, app: str) -> str | None:
    """The caller channel an agent leg belongs to (its Stasis arguments: agent,<call id>)."""
    args = stasis_args(leg, app) or []
    return args[1] if len(args) > 1 else None


def _older_than(created: datetime | None, min_age: float, now: float) -> bool:
    return created is None or created.timestamp() <= now - min_age


def sort_leftovers(channels: list[Channel], bridges: list[Bridge], app: str,
                   owned: Callable[[str], bool], min_age: float = 0.0,
                   now: float | None = None) -> Leftovers:
    """`min_age`: leave alone what is younger (its StasisStart, or its claim by the call that
    made it, may still be on the way)."""
    found = Leftovers()
    at = time.time() if now is None else now
    unowned = {c.id: c for c in channels
               if not owned(c.id) and _older_than(c.creationtime, min_age, at)}
    legs: dict[str, Channel] = {}  # agent leg channel id -> channel, answered and in Stasis
    for channel in unowned.values():
        args = stasis_args(channel, app)
        if args is None:
            # An agent's phone still ringing for a call of the old process: nobody would
            # bridge it if it were answered now.
            if channel.name.startswith(AGENT_PHONES) and channel.state != "Up":
                found.hang_up.append(channel)
            continue
        if channel.name.startswith(HELPERS):
            found.hang_up.append(channel)
        elif not args or args == [""]:
            found.callers.append(channel)  # a caller of the hotline's menu
        elif args[0] == LEG:
            legs[channel.id] = channel
        else:
            found.hang_up.append(channel)  # media taps, echo and feature-code lines, callbacks
    callers = {c.id for c in found.callers}
    talking: set[str] = set()
    for bridge in bridges:
        if bridge.bridge_class != "stasis" or owned(bridge.id) \
                or any(owned(c) for c in bridge.channels) \
                or not _older_than(bridge.creationtime, min_age, at):
            continue
        members = set(bridge.channels)
        caller = members & callers
        agents = members & legs.keys()
        if bridge.bridge_type == "mixing" and len(caller) == 1 and len(agents) == 1:
            [caller_id], [leg_id] = caller, agents
            found.talks[caller_id] = TalkLeft(bridge.id, leg_id)
            talking.add(leg_id)
        elif bridge.bridge_type == "mixing" and not caller and len(agents) == 1 \
                and (held := _call_of(legs[next(iter(agents))], app)) in callers \
                and held not in found.talks:
            # The agent alone in the talk: its caller was on hold (the holding bridge goes;
            # a caller is in one bridge at a time, so it has no other talk).
            [leg_id] = agents
            found.talks[held] = TalkLeft(bridge.id, leg_id, held=True)
            talking.add(leg_id)
        else:
            found.destroy.append(bridge)
    found.hang_up += [leg for leg_id, leg in legs.items() if leg_id not in talking]
    return found


async def find_leftovers(rest: AriRest, app: str, owned: Callable[[str], bool],
                         min_age: float = 0.0) -> Leftovers:
    return sort_leftovers(await rest.list_channels(), await rest.list_bridges(), app, owned,
                          min_age)
