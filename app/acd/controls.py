"""Call controls while a caller talks to an agent: hold and unhold (the caller hears music, the
agent silence), mute (the agent's side), blind transfer to a queue or an agent, consult (the
caller holds while the first agent talks to a second one) then complete or cancel, hang up.

The HTTP API asks, the caller's own call task acts: a request arrives as a notice on the call's
event queue, in order with the PBX's events, so a control never races the agent hanging up or a
second agent answering. Each control answers its request with the conversation's new state and
publishes an event on the feed.

Holding is the queue's proven path: the caller alone in a holding bridge with music on its own
channel; the agent stays in the talk bridge and hears nothing. Each agent leg keeps its holds
(count and time: handling time is talk + hold + wrap-up) and where it handed the caller on;
the call's one recording goes on, with a segment per agent leg.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from app.acd import records
from app.acd.agents import AgentNotFound
from app.acd.states import MISSED, OFFLINE
from app.ari_handlers.bridge import Bridge
from app.ari_handlers.call import CallHungUp
from app.ari_handlers.models import (
    Channel,
    ChannelDestroyed,
    ChannelHangupRequest,
    Event,
    Notice,
    StasisEnd,
    StasisStart,
)
from app.ari_handlers.rest import AriError
from app.core.calltrace import EndedBy
from app.db.models import AgentLegKind, AgentLegResult, TransferKind
from app.events import (
    CallConsultAnswered,
    CallConsultEnded,
    CallConsultStarted,
    CallHeld,
    CallHungUpByAgent,
    CallMuted,
    CallTransferred,
    CallUnheld,
)
from app.services.masking import mask_phone

if TYPE_CHECKING:
    from app.acd.waiting import QueueVisit

log = logging.getLogger(__name__)

ACTIONS = ("hold", "unhold", "mute", "transfer", "consult", "complete", "cancel", "hangup")
RING_GRACE = 2.0  # seconds past the ring timeout before we give up on the PBX's answer
BUSY_CAUSES = {17, 21}  # user busy, call rejected


class ControlError(Exception):
    """A control that cannot be done now (status 409), or names something unknown (422)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ControlRequest(Notice):
    """From the API to the call's task: do `action` and answer on `reply` (a future)."""

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    by: str = ""  # the user who asked
    by_agent: bool = False  # that user is the agent on the call (not a supervisor)
    reply: Any = None  # asyncio.Future[dict[str, Any]]


@dataclass
class Leg:
    """An agent's leg of the call: rung, then (answered) talking."""

    agent: str
    leg_id: int
    channel_id: str
    answered: bool = False
    ring_deadline: float = 0.0  # monotonic; while ringing
    by: tuple[str, int] = ("", 0)  # the agent (and leg) who had it rung


@dataclass(frozen=True)
class TransferOut:
    """The caller leaves the conversation for a queue (a blind transfer, or a transfer to an
    agent who did not answer: back to the queue it came from)."""

    queue: str
    from_leg_id: int
    by_agent: str


class Conversation:
    """A caller and the agent on the call, with the controls applied to them."""

    def __init__(self, visit: QueueVisit, agent: str, leg_id: int, channel_id: str,
                 talk: Bridge) -> None:
        self.visit = visit
        self.acd = visit.acd
        self.call = visit.call
        self.current: Leg | None = Leg(agent, leg_id, channel_id, answered=True)
        self.talk = talk
        self.holding: Bridge | None = None
        self.caller_held = False  # the caller is in the holding bridge with music
        self.held_since: float | None = None  # a hold of the current leg under way
        self.hold_count = 0
        self.hold_seconds = 0.0
        self.explicit_hold = False  # held by the hold control (not only for a consultation)
        self.muted = False
        self.consult: Leg | None = None  # the agent consulted (ringing or talking)
        self.ringing: Leg | None = None  # the agent a blind transfer rings
        self.transfer: TransferOut | None = None
        self.ended = False

    # --- the state the API answers with -------------------------------------------------
    @property
    def state(self) -> str:
        if self.ended:
            return "ended"
        if self.transfer is not None or self.current is None:
            return "transferred"
        if self.consult is not None:
            return "consulting"
        return "held" if self.caller_held else "talking"

    def snapshot(self) -> dict[str, Any]:
        return {
            "call_id": self.call.id, "state": self.state,
            "agent": self.current.agent if self.current else None,
            "held": self.caller_held, "muted": self.muted,
            "hold_count": self.hold_count,
            "consult": {"agent": self.consult.agent, "answered": self.consult.answered}
            if self.consult else None,
            "transfer": {"queue": self.transfer.queue} if self.transfer else
            {"agent": self.ringing.agent} if self.ringing else None,
        }

    # --- the loop -------------------------------------------------------------------------
    async def run(self, join: bool) -> TransferOut | None:
        """Until the call ends (CallHungUp when the caller hangs up), or the caller leaves for
        a queue (returned)."""
        acd, call = self.acd, self.call
        acd.conversations[call.id] = self
        try:
            if join:
                await self.talk.add(call.id)
                assert self.current is not None
                await self.talk.add(self.current.channel_id)
            while not self.ended and self.transfer is None:
                await self._take_requests()
                if self.ended or self.transfer is not None:
                    break
                event = await call.next_event(self._next_deadline())
                if event is None:
                    await self._ring_timeouts()
                elif not isinstance(event, Notice):
                    await self._on_event(event)
            return self.transfer
        finally:
            acd.conversations.pop(call.id, None)
            await asyncio.shield(self._finish())

    def _next_deadline(self) -> float | None:
        deadlines = [leg.ring_deadline for leg in (self.consult, self.ringing)
                     if leg is not None and not leg.answered]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    async def _take_requests(self) -> None:
        notices = self.call.notices
        requests = [n for n in notices if isinstance(n, ControlRequest)]
        for request in requests:
            notices.remove(request)
            await self._apply(request)

    async def _apply(self, request: ControlRequest) -> None:
        reply: asyncio.Future[dict[str, Any]] = request.reply
        try:
            handler = getattr(self, f"_do_{request.action}")
            await handler(request)
        except ControlError as exc:
            if not reply.done():
                reply.set_exception(exc)
            return
        except AriError as exc:
            if not reply.done():
                reply.set_exception(ControlError(409, "pbx_refused", str(exc)))
            if exc.status == 404 and await self.call.gone():
                raise CallHungUp(self.call.id) from exc
            return
        answer = self.snapshot()
        if request.action in ("transfer", "complete"):
            answer["state"] = "transferred"  # handed on (the new agent, if any, in `agent`)
        self.call.trace.step("control", action=request.action, by=request.by,
                             state=answer["state"])
        if not reply.done():
            reply.set_result(answer)

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, StasisStart):
            for leg in (self.consult, self.ringing):
                if leg is not None and not leg.answered and event.channel.id == leg.channel_id:
                    await self._answered(leg)
            return
        if not isinstance(event, (StasisEnd, ChannelDestroyed, ChannelHangupRequest)):
            return
        ids = event.channel_ids()
        if self.current is not None and self.current.channel_id in ids:
            await self._current_left()
        elif self.consult is not None and self.consult.channel_id in ids:
            leg, self.consult = self.consult, None
            if leg.answered:
                await self._end_leg(leg, hang_up=False)
                reason = "hung_up"
            else:
                await self._ring_failed(leg, event)
                reason = "no_answer"
            await self._back_to_caller()
            self._publish(CallConsultEnded, "", to_agent=leg.agent, reason=reason)
        elif self.ringing is not None and self.ringing.channel_id in ids:
            leg, self.ringing = self.ringing, None
            if leg.answered:  # answered, then gone before anything else: end of the call
                await self._end_leg(leg, hang_up=False)
                self.call.trace.ended(EndedBy.AGENT, "agent hung up")
                self.ended = True
            else:  # nobody took it: back to the queue the caller came from
                await self._ring_failed(leg, event)
                await self._to_queue(self.visit.queue, *leg.by)

    async def _current_left(self) -> None:
        """The agent on the call hung up their phone."""
        assert self.current is not None
        agent = self.current.agent
        if self.consult is not None and self.consult.answered:
            # Hanging up while consulting hands the caller to the agent consulted.
            await self._complete(hang_up=False)
            return
        self.call.trace.ended(EndedBy.AGENT, "agent hung up")
        self.call.trace.step("agent_hung_up", agent=agent)
        self.ended = True

    async def _ring_timeouts(self) -> None:
        now = time.monotonic()
        for leg in (self.consult, self.ringing):
            if leg is None or leg.answered or now < leg.ring_deadline:
                continue
            leg.ring_deadline = now + RING_GRACE
            try:
                await self.call.rest.hangup(leg.channel_id)  # its end comes as an event
            except AriError as exc:
                if exc.status != 404:
                    continue
                # Already gone without a word: its end will not come as an event.
                await self._on_event(ChannelDestroyed(
                    type="ChannelDestroyed", channel=Channel(id=leg.channel_id),
                    cause=0))

    # --- the controls ---------------------------------------------------------------------
    def _need_agent(self) -> Leg:
        if self.current is None:
            raise ControlError(409, "not_connected", "no agent is on the call now "
                               "(it is being transferred)")
        return self.current

    async def _do_hold(self, request: ControlRequest) -> None:
        self._need_agent()
        if self.consult is not None:
            raise ControlError(409, "consulting", "the caller already holds for the "
                               "consultation")
        if self.caller_held:
            raise ControlError(409, "already_held", "the caller is already on hold")
        await self._hold_caller()
        self.explicit_hold = True
        self._publish(CallHeld, request.by)

    async def _do_unhold(self, request: ControlRequest) -> None:
        self._need_agent()
        if self.consult is not None:
            raise ControlError(409, "consulting", "finish the consultation first "
                               "(complete or cancel)")
        if not self.caller_held:
            raise ControlError(409, "not_held", "the caller is not on hold")
        seconds = await self._unhold_caller()
        self._publish(CallUnheld, request.by, hold_seconds=round(seconds, 3))

    async def _do_mute(self, request: ControlRequest) -> None:
        leg = self._need_agent()
        muted = bool(request.params.get("muted", True))
        if muted != self.muted:
            if muted:
                await self.call.rest.mute(leg.channel_id, "in")
            else:
                await self.call.rest.unmute(leg.channel_id, "in")
            self.muted = muted
        self._publish(CallMuted, request.by, muted=muted)

    async def _do_hangup(self, request: ControlRequest) -> None:
        if request.by_agent:
            self.call.trace.ended(EndedBy.AGENT, "agent hung up")
        else:
            self.call.trace.ended(EndedBy.PLATFORM, f"hung up by supervisor {request.by}")
        self.call.trace.step("control_hangup", by=request.by)
        self._publish(CallHungUpByAgent, request.by)
        self.ended = True

    async def _do_transfer(self, request: ControlRequest) -> None:
        leg = self._need_agent()
        if self.consult is not None:
            raise ControlError(409, "consulting", "finish the consultation first "
                               "(complete or cancel)")
        queue, agent = request.params.get("queue"), request.params.get("agent")
        if queue:
            try:
                self.acd.rules.queue(str(queue))
            except KeyError as exc:
                raise ControlError(422, "unknown_queue", str(exc.args[0])) from None
            await self._end_leg(leg, records.Handover(TransferKind.BLIND, queue=str(queue)))
            self.current = None
            await self._to_queue(str(queue), leg.agent, leg.leg_id)
            self._publish(CallTransferred, request.by, agent=leg.agent, to_queue=str(queue))
            return
        ring = await self._ring(str(agent), AgentLegKind.TRANSFER, leg)
        if not self.caller_held:
            await self._hold_caller(count=False)  # waiting for the next agent: not a hold
        await self._end_leg(leg, records.Handover(TransferKind.BLIND, agent=ring.agent))
        self.current = None
        self.ringing = ring
        self._publish(CallTransferred, request.by, agent=leg.agent, to_agent=ring.agent)

    async def _do_consult(self, request: ControlRequest) -> None:
        leg = self._need_agent()
        if self.consult is not None:
            raise ControlError(409, "consulting", f"already consulting agent "
                               f"{self.consult.agent}")
        ring = await self._ring(str(request.params.get("agent")), AgentLegKind.CONSULT, leg)
        if not self.caller_held:
            await self._hold_caller()
        self.consult = ring
        self._publish(CallConsultStarted, request.by, to_agent=ring.agent)

    async def _do_complete(self, request: ControlRequest) -> None:
        self._need_agent()
        if self.consult is None:
            raise ControlError(409, "not_consulting", "no consultation to complete")
        if not self.consult.answered:
            raise ControlError(409, "not_answered", f"agent {self.consult.agent} has not "
                               "answered yet")
        await self._complete(hang_up=True, by=request.by)

    async def _do_cancel(self, request: ControlRequest) -> None:
        self._need_agent()
        if self.consult is None:
            raise ControlError(409, "not_consulting", "no consultation to cancel")
        leg, self.consult = self.consult, None
        if leg.answered:
            await self._end_leg(leg)
        else:
            with contextlib.suppress(AriError):
                await self.call.rest.hangup(leg.channel_id)
            await self._ring_failed(leg, None)
        await self._back_to_caller()
        self._publish(CallConsultEnded, request.by, to_agent=leg.agent, reason="cancelled")

    # --- the steps they are made of -------------------------------------------------------
    async def _complete(self, hang_up: bool, by: str = "") -> None:
        """The caller goes to the agent consulted; the first agent leaves."""
        first, second = self.current, self.consult
        assert first is not None and second is not None
        self.consult = None
        await self._end_leg(first, records.Handover(TransferKind.CONSULT, agent=second.agent),
                            hang_up=hang_up)
        self.current = second
        self.muted = False
        await self._leg_recorded(second)
        await self._unhold_caller()
        self._publish(CallTransferred, by, agent=first.agent, transfer="consult",
                      to_agent=second.agent)

    async def _back_to_caller(self) -> None:
        """After a consultation: the caller back with the first agent (held again if the
        agent had put it on hold before consulting)."""
        if self.current is not None and self.caller_held and not self.explicit_hold:
            await self._unhold_caller()

    async def _hold_caller(self, count: bool = True) -> None:
        call = self.call
        if self.holding is None:
            self.holding = await Bridge.create(call, "holding", name=f"hold-{call.id}")
        with contextlib.suppress(AriError):  # not in it while a transfer rings
            await self.talk.remove(call.id)
        await self.holding.add(call.id)
        # Music on the caller's own channel, as in the queue (bridge music makes Announcer
        # channels, which deadlocked Asterisk's channel store under load).
        await call.rest.start_moh(call.id)
        self.caller_held = True
        if count:
            self.held_since = time.monotonic()
            self.hold_count += 1
        call.trace.step("caller_held")

    async def _unhold_caller(self) -> float:
        """The caller back in the talk bridge; returns the length of the hold that ended."""
        call = self.call
        with contextlib.suppress(AriError):
            await call.rest.stop_moh(call.id)
        if self.holding is not None:  # taken down: a hold is the exception, not the rule
            with contextlib.suppress(AriError):
                await self.holding.remove(call.id)
            await self.holding.destroy()
            self.holding = None
        await self.talk.add(call.id)
        self.caller_held = self.explicit_hold = False
        call.trace.step("caller_unheld")
        return self._close_hold()

    def _close_hold(self) -> float:
        if self.held_since is None:
            return 0.0
        seconds = time.monotonic() - self.held_since
        self.hold_seconds += seconds
        self.held_since = None
        return seconds

    def _take_holds(self) -> records.Holds:
        """The current leg's holds (a hold under way counts until now); reset for the next."""
        self._close_hold()
        holds = records.Holds(self.hold_count, self.hold_seconds)
        self.hold_count, self.hold_seconds = 0, 0.0
        if self.caller_held:  # still held, now for the next agent: no one's hold yet
            self.explicit_hold = False
        return holds

    async def _ring(self, number: str, kind: AgentLegKind, by_leg: Leg) -> Leg:
        """Ring another agent's softphone the way the distributor does; refused at once (409)
        unless that agent is ready."""
        acd, call, visit = self.acd, self.call, self.visit
        if number == by_leg.agent:
            raise ControlError(409, "same_agent", f"agent {number} is already on the call")
        try:
            leg_id = await records.start_ringing(acd.db, number, call.id, visit.entry_id,
                                                 kind=kind, from_leg_id=by_leg.leg_id)
        except AgentNotFound as exc:
            raise ControlError(422, "unknown_agent", str(exc)) from None
        if leg_id is None:
            raise ControlError(409, "agent_not_ready", f"agent {number} is not ready")
        acd.distributor.reserved[number] = call.id  # not offered to a waiting caller meanwhile
        acd.distributor.publish_state(number, "ringing", call_id=call.id)
        masked = mask_phone(call.trace.caller) or ""
        from app.acd.waiting import AgentRinging, screen_context

        acd.events.publish(AgentRinging(
            call_id=call.id, agent=number, queue=visit.queue, skill=visit.skill,
            caller=masked, context={**screen_context(
                call, visit.vars, visit.lang, visit.priority, 0.0, None,
                await visit._recent_calls()), "transfer": kind.value,
                "from_agent": by_leg.agent}))
        call.trace.step("agent_ring", agent=number, leg_kind=kind.value, by=by_leg.agent)
        rule = visit.rule
        try:
            channel = await call.rest.originate(
                f"PJSIP/agent-{number}", acd.app, app_args=f"agent,{call.id}",
                caller_id=f'"{visit.queue} {masked}" <{call.trace.caller}>',
                timeout=int(rule.ring_timeout),
                variables={"PJSIP_HEADER(add,X-Hotline-Call-Id)": call.id})
        except AriError as exc:
            # A phone that is not registered cannot be rung (ARI answers 500): the agent is
            # paused 离线 as when the distributor rings it.
            await self._ring_failed(Leg(number, leg_id, ""), None, offline=exc.status == 500)
            raise ControlError(409, "agent_unreachable",
                               f"agent {number} cannot be rung: {exc.message}") from None
        call.dispatcher.claim(channel.id, call)
        return Leg(number, leg_id, channel.id, by=(by_leg.agent, by_leg.leg_id),
                   ring_deadline=time.monotonic() + rule.ring_timeout + RING_GRACE)

    async def _answered(self, leg: Leg) -> None:
        acd, call = self.acd, self.call
        await records.answered(acd.db, leg.agent, leg.leg_id, leg.channel_id)
        leg.answered = True
        acd.distributor.publish_state(leg.agent, "on_call", call_id=call.id)
        acd.distributor.release(call.id, leg.agent)
        if leg is self.consult:
            await self.talk.add(leg.channel_id)  # with the first agent; the caller holds
            self._publish(CallConsultAnswered, "", to_agent=leg.agent)
            return
        # A blind transfer's agent: the caller comes off hold to talk to them.
        from app.acd.waiting import AgentConnected

        self.ringing = None
        self.current = leg
        self.muted = False
        await self.talk.add(leg.channel_id)
        await self._leg_recorded(leg)
        await self._unhold_caller()
        acd.events.publish(AgentConnected(call_id=call.id, agent=leg.agent,
                                          queue=self.visit.queue))
        call.trace.step("agent_connected", agent=leg.agent, transfer=True)

    async def _ring_failed(self, leg: Leg, event: Event | None, offline: bool = False) -> None:
        """A ring that did not become a talk: the leg's result, the agent's state."""
        acd = self.acd
        if event is None:  # cancelled by us, or the PBX refused it: not the agent's miss
            result, counts = AgentLegResult.FAILED, False
        else:
            cause = event.cause if isinstance(event, ChannelDestroyed) else 0
            result = AgentLegResult.REJECTED if cause in BUSY_CAUSES \
                else AgentLegResult.NO_ANSWER
            counts = True
        state = await asyncio.shield(records.ring_failed(
            acd.db, leg.agent, leg.leg_id, result, leg.channel_id or None, counts=counts,
            offline=offline))
        reason = (OFFLINE if offline else MISSED) if state == "paused" else None
        acd.distributor.publish_state(leg.agent, state, reason)
        acd.distributor.release(self.call.id, leg.agent, answered=False)
        from app.acd.waiting import AgentLegEnded

        acd.events.publish(AgentLegEnded(call_id=self.call.id, agent=leg.agent,
                                         result=result.value))
        self.call.trace.step("agent_no_answer", agent=leg.agent, result=result.value)

    async def _end_leg(self, leg: Leg, handover: records.Handover | None = None,
                       hang_up: bool = True) -> None:
        """An answered agent leg is over: its phone hung up, its recording segment closed,
        its times and handover written, the agent to wrap-up."""
        acd, call = self.acd, self.call
        from app.acd.waiting import AgentLegEnded

        if hang_up and leg.channel_id:
            with contextlib.suppress(AriError):
                await call.rest.hangup(leg.channel_id)
        holds = self._take_holds() if leg is self.current else records.Holds()
        wrap_up = self.visit.rule.wrap_up
        if acd.recorder is not None:
            await asyncio.shield(acd.recorder.leg_ended(call.id, leg.leg_id))
        await asyncio.shield(records.talk_ended(acd.db, leg.agent, leg.leg_id, wrap_up,
                                                holds, handover))
        acd.distributor.publish_state(leg.agent, "wrap_up", call_id=call.id, seconds=wrap_up)
        acd.events.publish(AgentLegEnded(call_id=call.id, agent=leg.agent, result="answered"))
        acd.wrap_up(leg.agent, wrap_up)

    async def _leg_recorded(self, leg: Leg) -> None:
        if self.acd.recorder is not None:
            await self.acd.recorder.leg_started(self.call.id, leg.leg_id)

    async def _to_queue(self, queue: str, by: str, leg_id: int) -> None:
        """The caller leaves this conversation for `queue` (the next visit holds it there)."""
        call = self.call
        with contextlib.suppress(AriError):
            await call.rest.stop_moh(call.id)
        for bridge in (self.holding, self.talk):
            if bridge is not None:
                with contextlib.suppress(AriError):
                    await bridge.remove(call.id)
        self.caller_held = False
        self.transfer = TransferOut(queue, leg_id, by)
        call.trace.step("transfer_to_queue", queue=queue, by=by)

    def _publish(self, kind: type[Any], by: str, **fields: Any) -> None:
        agent = fields.pop("agent", None) or (self.current.agent if self.current else "")
        self.acd.events.publish(kind(call_id=self.call.id, agent=agent, by=by, **fields))

    async def _finish(self) -> None:
        """The conversation is over (ended, the caller gone, or off to a queue): end every
        leg still open, answer requests still waiting, take the bridges down."""
        acd, call = self.acd, self.call
        for request in [n for n in call.notices if isinstance(n, ControlRequest)]:
            call.notices.remove(request)
            if not request.reply.done():
                request.reply.set_exception(ControlError(409, "call_ended",
                                                         "the call has ended"))
        for leg in (self.consult, self.ringing):
            if leg is None:
                continue
            if leg.answered:
                await self._end_leg(leg)
            else:
                with contextlib.suppress(AriError):
                    await call.rest.hangup(leg.channel_id)
                await self._ring_failed(leg, None)
        self.consult = self.ringing = None
        if self.current is not None:
            await self._end_leg(self.current)
            self.current = None
        if self.caller_held and self.transfer is None:
            with contextlib.suppress(AriError):
                await call.rest.stop_moh(call.id)
        for bridge in (self.holding, self.talk):
            if bridge is not None:
                await bridge.destroy()
        if acd.recorder is not None and self.transfer is None:
            acd.recorder.stop(call.id, partial=call.trace.ended_by == EndedBy.PBX_RESTART)
