"""Agents' feature codes (Stasis argument `feature,<code>`): log in, log out, pause, ready.

The agent is the channel's endpoint (PJSIP/agent-NO-...): only an authenticated agent phone
reaches the from-agents context, so the channel name is a trustworthy identity.
"""

from __future__ import annotations

import logging

from app.acd.agents import AgentError, get_agent
from app.acd.identity import number_from_channel
from app.acd.states import DEFAULT_PAUSE, StateError, set_state
from app.ari_handlers.call import Call, CallHungUp
from app.ari_handlers.dispatch import CallHandler
from app.db.models import AgentStateName
from app.db.session import Database
from app.events import AgentStateChanged, EventFeed

log = logging.getLogger(__name__)

# code -> (state, reason, confirmation)
FEATURES: dict[str, tuple[AgentStateName, str | None, str]] = {
    "*21": (AgentStateName.READY, None, "sound:agent-loginok"),
    "*22": (AgentStateName.LOGGED_OUT, None, "sound:agent-loggedoff"),
    "*23": (AgentStateName.PAUSED, DEFAULT_PAUSE, "sound:beep"),
    "*24": (AgentStateName.READY, None, "sound:agent-loginok"),
}
REFUSED = "sound:beeperr"


async def apply_feature(db: Database, number: str, code: str) -> str:
    """Change the agent's state for the code; returns the confirmation to play."""
    if code not in FEATURES:
        log.warning("agent %s: unknown feature code %r", number, code)
        return REFUSED
    state, reason, confirmation = FEATURES[code]
    async with db.session() as session:
        try:
            agent = await get_agent(session, number)
            await set_state(session, agent, state, reason, by="feature_code")
        except (AgentError, StateError) as exc:
            log.info("agent %s: feature %s refused: %s", number, code, exc)
            return REFUSED
        await session.commit()
    log.info("agent %s: %s -> %s", number, code, state.value)
    return confirmation


def feature_handler(db: Database, events: EventFeed | None = None) -> CallHandler:
    async def handle(call: Call) -> None:
        code = call.args[1] if len(call.args) > 1 else ""
        number = number_from_channel(call.channel.name)
        if number is None:
            log.warning("feature code %r from a non-agent channel %s", code, call.channel.name)
            media = REFUSED
        else:
            media = await apply_feature(db, number, code)
            if events is not None and media != REFUSED:
                state, reason, _ = FEATURES[code]
                events.publish(AgentStateChanged(agent=number, state=state.value,
                                                 reason=reason))
        try:
            await call.answer()
            await call.play(media)
        except CallHungUp:
            return  # the state change stands; the agent just did not wait to hear it
        await call.hangup()

    return handle
