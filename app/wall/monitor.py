"""A supervisor listens in on, whispers to, or barges into an agent's call.

The supervisor's own phone is rung (originated into our Stasis app with `monitor,<session>`)
and, once it answers, runs as a call of its own:
- listen: a snoop on the agent's channel (spy both: caller and agent) bridged to the phone;
- whisper: the same snoop, also whispering out: the agent hears the supervisor, the caller not;
- barge: the phone joins the call's own bridge: caller and agent both hear the supervisor.
It ends when the supervisor hangs up or the agent's talk ends (the feed says the agent left
on_call); the agents grid marks the agent as monitored meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from app.ari_handlers.bridge import Bridge
from app.ari_handlers.call import Call, CallHungUp
from app.ari_handlers.models import ChannelDestroyed, StasisEnd
from app.ari_handlers.rest import AriError, AriRest
from app.db.models import Agent, AgentLeg
from app.db.session import Database
from app.events import AgentMonitored, AgentStateChanged, EventFeed, PlatformEvent

log = logging.getLogger(__name__)

MODES = ("listen", "whisper", "barge")
SNOOP = {"listen": ("both", "none"), "whisper": ("both", "out")}  # (spy, whisper)
ENDPOINT = re.compile(r"^PJSIP/[A-Za-z0-9_.+-]{1,64}$")
RING_SECONDS = 30


class MonitorError(Exception):
    """Why listening in cannot start: status (HTTP-like), code and a message to act on."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Session:
    id: str
    agent: str
    mode: str
    endpoint: str
    supervisor: str
    call_id: str  # the caller's call
    agent_channel: str
    bridge_id: str | None = None  # the talk's bridge (barge)
    phone_channel: str | None = None
    state: str = "ringing"  # ringing, active, ended

    def as_dict(self) -> dict[str, str | None]:
        return {"session": self.id, "agent": self.agent, "mode": self.mode,
                "endpoint": self.endpoint, "call_id": self.call_id, "state": self.state}


async def current_talk(db: Database, agent: str) -> tuple[str, str] | None:
    """(call id, agent's channel id) of the agent's answered leg still going, if any."""
    async with db.session() as session:
        row = (await session.execute(
            select(AgentLeg.call_id, AgentLeg.channel_id)
            .join(Agent, Agent.id == AgentLeg.agent_id)
            .where(Agent.number == agent, AgentLeg.answer_at.is_not(None),
                   AgentLeg.end_at.is_(None), AgentLeg.channel_id.is_not(None))
            .order_by(AgentLeg.id.desc()).limit(1))).first()
    return (row[0], row[1]) if row and row[1] else None


class Monitors:
    def __init__(self, db: Database, events: EventFeed, app: str,
                 rest: Callable[[], AriRest]) -> None:
        self.db = db
        self.events = events
        self.app = app
        self.rest = rest
        self.sessions: dict[str, Session] = {}

    async def start(self, agent: str, mode: str, endpoint: str, supervisor: str) -> Session:
        if mode not in MODES:
            raise MonitorError(400, "bad_mode", f"mode must be one of {', '.join(MODES)}")
        if not ENDPOINT.match(endpoint):
            raise MonitorError(400, "bad_endpoint",
                               f"endpoint {endpoint!r} is not a PJSIP endpoint "
                               "(e.g. PJSIP/agent-1009)")
        if any(s.endpoint == endpoint for s in self.sessions.values()):
            raise MonitorError(409, "endpoint_busy",
                               f"{endpoint} is already listening in; hang it up first")
        talk = await current_talk(self.db, agent)
        if talk is None:
            raise MonitorError(409, "not_on_call", f"agent {agent} is not on a call")
        call_id, channel = talk
        rest = self.rest()
        session = Session(uuid.uuid4().hex[:12], agent, mode, endpoint, supervisor, call_id,
                          channel)
        if mode == "barge":
            session.bridge_id = next(
                (b.id for b in await rest.list_bridges()
                 if channel in b.channels and b.bridge_type == "mixing"), None)
            if session.bridge_id is None:
                raise MonitorError(409, "not_on_call", f"agent {agent}'s call has no bridge")
        self.sessions[session.id] = session
        try:
            phone = await rest.originate(
                endpoint, self.app, app_args=f"monitor,{session.id}",
                caller_id=f'"{mode} {agent}" <{agent}>', timeout=RING_SECONDS)
        except AriError as exc:
            self.sessions.pop(session.id, None)
            # The PBX itself unreachable or failing: 503; the endpoint refused: 409.
            raise MonitorError(503 if exc.status >= 500 or exc.status == 0 else 409,
                               "endpoint_unreachable",
                               f"cannot ring {endpoint}: {exc}") from exc
        session.phone_channel = phone.id
        # The phone may never answer: forget the session when its ring time is over.
        asyncio.get_running_loop().call_later(RING_SECONDS + 5, self._expire, session.id)
        return session

    def _expire(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None and session.state == "ringing":
            del self.sessions[session_id]

    async def run(self, call: Call) -> None:
        """The supervisor's phone answered (Stasis arguments `monitor,<session>`)."""
        session = self.sessions.get(call.args[1]) if len(call.args) > 1 else None
        if session is None or session.state != "ringing":
            log.info("monitor channel %s has no session: hanging up", call.id)
            return
        session.state = "active"
        talk_over = self.events.subscribe(_talk_over(session.agent), maxsize=1)
        over = asyncio.create_task(talk_over.get())
        snoop_id: str | None = None
        bridge: Bridge | None = None
        self.events.publish(AgentMonitored(call_id=session.call_id, agent=session.agent,
                                           mode=session.mode, supervisor=session.supervisor,
                                           active=True))
        try:
            if session.mode == "barge":
                assert session.bridge_id is not None
                await call.rest.add_channel(session.bridge_id, call.id)
            else:
                spy, whisper = SNOOP[session.mode]
                bridge = await Bridge.create(call, "mixing", name=f"monitor-{session.id}")
                # Its StasisStart names this call (`agent,<id>`), so it is routed here.
                snoop = await call.rest.snoop(session.agent_channel, self.app, spy=spy,
                                              whisper=whisper, app_args=f"agent,{call.id}")
                snoop_id = snoop.id
                call.dispatcher.claim(snoop_id, call)
                await bridge.add(snoop_id)
                await bridge.add(call.id)
            while not over.done():
                event = await call.next_event(0.5)
                if isinstance(event, (ChannelDestroyed, StasisEnd)) \
                        and event.channel.id == snoop_id:
                    break  # the agent's channel is gone
        except CallHungUp:
            pass
        except AriError as exc:
            log.info("monitoring agent %s ended: %s", session.agent, exc)
        finally:
            session.state = "ended"
            self.sessions.pop(session.id, None)
            over.cancel()
            talk_over.close()
            if snoop_id is not None:
                with contextlib.suppress(AriError):
                    await call.rest.hangup(snoop_id)
            if bridge is not None:
                await asyncio.shield(bridge.destroy())
            self.events.publish(AgentMonitored(call_id=session.call_id, agent=session.agent,
                                               mode=session.mode,
                                               supervisor=session.supervisor, active=False))


def _talk_over(agent: str) -> Callable[[PlatformEvent], bool]:
    def accept(event: PlatformEvent) -> bool:
        return isinstance(event, AgentStateChanged) and event.agent == agent \
            and event.state != "on_call"

    return accept
