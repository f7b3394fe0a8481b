"""A caller in a queue, as straight async code in the caller's own call task: music in a
holding bridge, position and expected wait announced, ring the agent the distributor offers
(the next one when that one does not answer), then caller and agent in a mixing bridge until
one hangs up. After the longest wait: keep waiting, a callback, or a message. With no agent of
the skill logged in anywhere the caller is told so at once and offered the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.acd import records
from app.acd.controls import Conversation, TransferOut
from app.acd.distributor import AgentOffered, Distributor, Waiter
from app.acd.estimate import WaitHistory, estimate_wait
from app.acd.routing import QueueRule, RoutingRules
from app.acd.selection import Assignment, WaitingCall
from app.acd.states import MISSED, OFFLINE
from app.ari_handlers.bridge import Bridge
from app.ari_handlers.call import Call, CallHungUp
from app.ari_handlers.models import ChannelDestroyed, StasisStart
from app.ari_handlers.reconcile import TalkLeft
from app.ari_handlers.rest import AriError, AriRest
from app.db.models import AgentLegResult, QueueResult
from app.db.session import Database
from app.events import EventFeed, PlatformEvent, QueueLeft
from app.recordings.recorder import Recorder, RecordingError
from app.services import outcomes
from app.services.masking import mask_phone

log = logging.getLogger(__name__)

Say = Callable[..., Awaitable[Any]]  # FlowRunner.say_prompt(prompt, interrupt, slots)
# FlowRunner.start_prompt(prompt): playing, and set once played
StartPrompt = Callable[[str], Awaitable[asyncio.Event]]
BUSY_CAUSES = {17, 21}  # user busy, call rejected: the agent pressed reject
# ARI refuses to originate to a phone with no registration ("Allocation failed").
UNREACHABLE = {500}


@dataclass(frozen=True, kw_only=True)
class AgentRinging(PlatformEvent):
    """The screen pop: everything the agent should see while the phone rings."""

    kind = "agent.ringing"
    agent: str
    queue: str
    skill: str
    caller: str  # masked
    context: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class AgentConnected(PlatformEvent):
    kind = "agent.connected"
    agent: str
    queue: str
    wait_seconds: float | None = None
    overflow_from: str | None = None


@dataclass(frozen=True, kw_only=True)
class AgentLegEnded(PlatformEvent):
    kind = "agent.leg_ended"
    agent: str
    result: str


class Acd:
    """What the IVR's enqueue step needs of the ACD on this node."""

    def __init__(self, db: Database, rules: RoutingRules, distributor: Distributor,
                 events: EventFeed, app: str, rest: Callable[[], AriRest] | None = None
                 ) -> None:
        self.rest = rest or _no_rest  # the platform's ARI REST client (callbacks ring with it)
        self.tasks: set[asyncio.Task[None]] = set()
        self.answered_callbacks: dict[int, asyncio.Event] = {}
        self.db = db
        self.rules = rules
        self.distributor = distributor
        self.events = events
        self.app = app
        self.history = WaitHistory()
        self._centers: dict[str, int] = {}
        self._wrapups: set[asyncio.Task[None]] = set()
        # Calls where a caller talks to an agent now: the call controls act on them.
        self.conversations: dict[str, Conversation] = {}
        self.recorder: Recorder | None = None  # conversations are recorded when set
        self.recording_notice = True  # callers hear that the call may be recorded
        # Other nodes ring the same agents (a cluster): the ring is written before the phone
        # rings, so an agent claimed by another node is never rung, not even for an instant.
        self.shared_agents = False

    async def center_ids(self) -> dict[str, int]:
        if not self._centers:
            self._centers = await records.center_ids(self.db)
        return self._centers

    async def center_id(self, name: str) -> int | None:
        if name not in self._centers:
            self._centers = await records.center_ids(self.db)
        return self._centers.get(name)

    def serve_callbacks(self) -> None:
        """Let the distributor hand due callbacks to agents too."""
        from app.acd import callbacks

        self.distributor.due_callbacks = lambda: callbacks.due_callbacks(self)
        self.distributor.ring_callback = lambda a: callbacks.ring_agent(self, a)

    def wrap_up(self, agent: str, seconds: float) -> None:
        task = asyncio.create_task(self._wrap_up(agent, seconds), name=f"wrap-up-{agent}")
        self._wrapups.add(task)
        task.add_done_callback(self._wrapups.discard)

    async def _wrap_up(self, agent: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if await records.wrap_up_done(self.db, agent):
            self.distributor.publish_state(agent, "ready")
        self.distributor.kick()

    async def stop(self) -> None:
        for task in [*self._wrapups, *self.tasks]:
            task.cancel()


def _no_rest() -> AriRest:
    raise RuntimeError("no ARI client: callbacks need the running platform")


def hints_of(call: Call) -> list[str]:
    """The menu nodes the caller went through and the intents recognised, in order."""
    out: list[str] = []
    for step in call.trace.steps:
        if step["kind"] == "node":
            out.append(str(step.get("node", "")))
        elif step["kind"] == "speech" and step.get("intent") not in (None, "none"):
            out.append(str(step["intent"]))
    return out


def screen_context(call: Call, ctx_vars: dict[str, str], lang: str, priority: bool,
                   waited: float, overflow_from: str | None, recent: int,
                   work_orders: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    speech = [s for s in call.trace.steps if s["kind"] == "speech"]
    last = speech[-1] if speech else {}
    # The menu collects the order number's 9 digits (var order_no); the pop shows it masked.
    order = ctx_vars.get("order_no", "")
    return {
        "ivr_path": [s.get("node") for s in call.trace.steps if s["kind"] == "node"],
        "intent": last.get("intent"), "transcript": last.get("transcript"),
        "confidence": last.get("confidence"),
        "order_number": f"E{order[:2]}*****{order[-2:]}" if len(order) >= 6 else None,
        "language": lang, "priority": priority, "wait_seconds": round(waited, 1),
        "overflow_from": overflow_from, "calls_last_7_days": recent,
        "work_orders": work_orders or [],
    }


async def _written(writing: asyncio.Task[int | None]) -> int | None:
    """The leg a ring wrote; None when the agent was not ready or the write failed."""
    try:
        return await asyncio.shield(writing)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("agent leg not written")
        return None


class QueueVisit:
    """One caller's stay in one queue."""

    def __init__(self, acd: Acd, call: Call, queue: str, entry_id: int, say: Say,
                 ctx_vars: dict[str, str], lang: str, priority: bool,
                 entered: float | None = None, transferred: bool = False,
                 start: StartPrompt | None = None) -> None:
        self.acd = acd
        self.start = start
        # The recording notice, played while agents are offered the caller; music starts
        # once it has been heard (the hold task), unless an agent took the call first.
        self.notice: asyncio.Event | None = None
        self.hold_task: asyncio.Task[None] | None = None
        self.hold_lock = asyncio.Lock()
        self.connecting = False
        self.call = call
        self.queue = queue
        self.rule: QueueRule = acd.rules.queue(queue)
        self.entry_id = entry_id
        self.say = say
        self.vars = ctx_vars
        self.lang = lang
        self.priority = priority or self.rule.priority
        self.skill = acd.rules.skill_for(queue, hints_of(call))
        self.center = acd.rules.center_for(call.trace.called, call.trace.caller)
        self.entered = entered or time.time()  # a resumed wait keeps its place
        self.waiter: Waiter | None = None
        self.holding: Bridge | None = None
        self.music = False
        self.wait: float | None = None
        self.recent: asyncio.Task[int] | None = None
        self.orders: asyncio.Task[list[dict[str, Any]]] | None = None
        self.routed: asyncio.Task[None] | None = None
        # Set once a callback is booked: a hang-up after that (during "callback booked") ends
        # the wait as a callback, not an abandon.
        self.booked: QueueResult | None = None
        self.transferred = transferred  # an agent transferred the caller into this queue
        self.transfer: TransferOut | None = None  # the caller left the talk for another queue

    async def run(self) -> QueueResult:
        """How the stay ended (connected, callback, message, no_agents); CallHungUp when the
        caller hangs up while waiting (the entry is then closed as abandoned)."""
        acd = self.acd
        # Written and counted beside the wait, not before it: the entry's routing fields and
        # the screen pop's count of recent calls are needed only when the entry closes or an
        # agent's phone already rings.
        self.routed = asyncio.create_task(self._route())
        self.recent = asyncio.create_task(records.recent_calls(acd.db, self.call.trace.caller))
        # Read when the phone rings (errors logged there); a call that ends first drops it.
        self.recent.add_done_callback(lambda t: t.cancelled() or t.exception())
        self.orders = asyncio.create_task(
            records.recent_work_orders(acd.db, self.call.trace.caller))
        self.orders.add_done_callback(lambda t: t.cancelled() or t.exception())
        self.call.trace.step("queue", queue=self.queue, skill=self.skill, center=self.center,
                             priority=self.priority)
        result: QueueResult | None = None
        try:
            if not acd.distributor.fresh():
                await acd.distributor.read_agents()  # agents as of the last second at most
            if not acd.distributor.anyone_for(self.skill):
                result = await self._offer(no_agents=True) or QueueResult.NO_AGENTS
                return result
            if acd.recorder is not None and acd.recording_notice and not self.transferred:
                if self.start is None:
                    await self.say("recording_notice", False)  # before any agent can answer
                else:
                    # Agents' phones ring while it plays: the PBX adds the caller to the
                    # agent's bridge after it, so it is heard whole before anyone talks.
                    self.notice = await self.start("recording_notice")
            waiting = WaitingCall(self.call.id, self.queue, self.skill, self.center,
                                  self.priority, self.entered)
            self.waiter = acd.distributor.join(self.call.id, self.call.deliver, waiting,
                                               self.entry_id)
            result = await self._wait()
            return result
        except CallHungUp:
            result = self.booked or outcomes.queue_result(self.call.trace.ended_by)
            raise
        finally:
            acd.distributor.leave(self.call.id)
            await asyncio.shield(self._close(result))

    async def _route(self) -> None:
        await records.route_entry(self.acd.db, self.entry_id, self.skill,
                                  await self.acd.center_id(self.center))

    async def _recent_orders(self) -> list[dict[str, Any]]:
        if self.orders is None:
            return []
        try:
            return await asyncio.shield(self.orders)
        except Exception:  # the pop goes without them rather than the call failing
            log.exception("call %s: recent work orders not read", self.call.id)
            return []

    async def _recent_calls(self) -> int:
        if self.recent is None:
            return 0
        try:
            return await asyncio.shield(self.recent)
        except Exception:  # the pop goes without the count rather than the call failing
            log.exception("call %s: recent calls not counted", self.call.id)
            return 0

    async def _close(self, result: QueueResult | None) -> None:
        if self.routed is not None:
            # The routing fields first, so the closing write is the entry's last.
            with contextlib.suppress(Exception):
                await asyncio.shield(self.routed)
        await self._settle_hold()
        await self._leave_holding()
        result = result or QueueResult.ENDED_BY_PLATFORM
        if result != QueueResult.CONNECTED:  # a connected entry was closed at the answer
            self.wait = await records.close_entry(self.acd.db, self.entry_id, result)
        self.acd.events.publish(QueueLeft(call_id=self.call.id, queue=self.queue,
                                          result=result.value, wait_seconds=self.wait,
                                          entry_id=self.entry_id, center=self.center))

    async def _hold(self) -> None:
        async with self.hold_lock:  # the hold task and the call's task never make two bridges
            await self._hold_now()

    async def _hold_now(self) -> None:
        if self.holding is None:
            self.holding = await Bridge.create(self.call, "holding", name=f"queue-{self.call.id}")
            await self.holding.add(self.call.id)
        if not self.music:
            # Music on the caller's own channel: bridge music creates Announcer channels,
            # which deadlocked Asterisk's channel store under load.
            await self.call.rest.start_moh(self.call.id)
            self.music = True

    async def _hold_when_heard(self) -> None:
        """Music (in the holding bridge) now, or once the notice has been played."""
        if self.notice is None or self.notice.is_set():
            await self._hold()
        elif self.hold_task is None:
            self.hold_task = asyncio.create_task(self._hold_after_notice(self.notice))

    async def _hold_after_notice(self, notice: asyncio.Event) -> None:
        await notice.wait()
        if not self.connecting:
            with contextlib.suppress(AriError, CallHungUp):  # the caller left meanwhile
                await self._hold()

    async def _notice_heard(self) -> None:
        """Before another prompt: the notice has been played and the music after it started."""
        if self.hold_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.hold_task)

    async def _settle_hold(self) -> None:
        """No music will start behind our back: a hold task still waiting for the notice is
        dropped; one already starting the music is waited for (and undone by the caller)."""
        self.connecting = True
        task, self.hold_task = self.hold_task, None
        if task is None:
            return
        if not task.done() and not (self.notice is not None and self.notice.is_set()):
            task.cancel()
        with contextlib.suppress(BaseException):
            await task

    async def _quiet(self) -> None:
        if self.music:
            self.music = False
            with contextlib.suppress(AriError):
                await self.call.rest.stop_moh(self.call.id)

    async def _leave_holding(self) -> None:
        await self._quiet()
        if self.holding is not None:
            with contextlib.suppress(AriError):
                await self.holding.remove(self.call.id)
            await self.holding.destroy()
            self.holding = None

    async def _wait(self) -> QueueResult:
        rule = self.rule
        await self._hold_when_heard()
        next_announce = self.entered + rule.announce_every
        give_up_at = self.entered + rule.max_wait
        while True:
            if self.call.notices:
                notice = self.call.notices.popleft()
                if isinstance(notice, AgentOffered):
                    if await self._ring(notice.assignment):
                        return QueueResult.CONNECTED
                continue
            now = time.time()
            if now >= give_up_at:
                result = await self._offer(no_agents=False)
                if result is not None:
                    return result
                give_up_at = time.time() + rule.max_wait
                await self._hold_when_heard()
                continue
            if now >= next_announce:
                await self._announce()
                next_announce = time.time() + rule.announce_every
                continue
            await self.call.next_event(min(next_announce, give_up_at) - now)
            self.call.flush_digits()  # keys pressed while waiting mean nothing

    async def _announce(self) -> None:
        position = self.acd.distributor.position(self.call.id)
        serving = sum(1 for a in self.acd.distributor.agents
                      if a.level(self.skill) > 0 and a.state in ("ready", "ringing", "on_call",
                                                                  "wrap_up"))
        seconds = estimate_wait(position, serving, self.acd.history.mean(self.queue))
        minutes = str(max(1, math.ceil((seconds or 60) / 60)))
        await self._notice_heard()
        await self._quiet()
        await self.say("acd_position", False, {"position": str(position), "minutes": minutes})
        await self._hold()

    async def _offer(self, no_agents: bool) -> QueueResult | None:
        """Keep waiting (None), callback or message; no_agents offers only the last two."""
        await self._notice_heard()
        await self._quiet()
        prompt = "acd_no_agents" if no_agents else "acd_max_wait"
        self.call.flush_digits()
        await self.say(prompt, True)
        key = await self.call.wait_digit(8)
        self.call.trace.step("queue_offer", prompt=prompt, key=key)
        choice = {"1": "callback", "2": "message"} if no_agents else \
            {"1": "wait", "2": "callback", "3": "message"}
        picked = choice.get(key or "", "none" if no_agents else "wait")
        if picked == "callback":
            await records.request_callback(
                self.acd.db, self.call.id, self.call.trace.caller, self.queue, self.skill,
                await self.acd.center_id(self.center),
                {"ivr_path": hints_of(self.call), "language": self.lang,
                 "priority": self.priority})
            self.booked = QueueResult.CALLBACK
            await self.say("acd_callback_booked", False)
            return QueueResult.CALLBACK
        if picked == "message":
            return QueueResult.MESSAGE
        if picked == "none":
            return QueueResult.NO_AGENTS
        return None

    async def _ring(self, assignment: Assignment) -> bool:
        """Ring the offered agent; True once caller and agent have talked (the call is over
        for the caller), False to keep waiting."""
        acd, call, rule = self.acd, self.call, self.rule
        agent = assignment.agent.number
        # The phone is rung first and the ring written meanwhile: the write still decides (an
        # agent who is no longer ready in the database is hung up at once). In a cluster the
        # write comes first: the agent may be on another node's call.
        writing = asyncio.create_task(
            records.start_ringing(acd.db, agent, call.id, self.entry_id))
        waited = time.time() - self.entered
        overflow_from = assignment.pick.origin if assignment.pick.overflow else None
        masked = mask_phone(call.trace.caller) or ""
        call.trace.step("agent_ring", agent=agent, overflow_from=overflow_from)
        channel_id: str | None = None
        leg_id: int | None = None
        result = AgentLegResult.NO_ANSWER
        offline = False  # the PBX could not ring the phone at all (not registered)
        try:
            if acd.shared_agents and await asyncio.shield(writing) is None:
                acd.distributor.unready(agent)
                return False
            try:
                channel = await call.rest.originate(
                    f"PJSIP/agent-{agent}", acd.app, app_args=f"agent,{call.id}",
                    caller_id=f'"{self.queue} {masked}" <{call.trace.caller}>',
                    timeout=int(rule.ring_timeout),
                    variables={"PJSIP_HEADER(add,X-Hotline-Call-Id)": call.id})
            except AriError as exc:
                result = AgentLegResult.FAILED  # the caller left, or the phone is gone
                if exc.status == 404 and await call.gone():
                    raise CallHungUp(call.id) from exc
                offline = exc.status in UNREACHABLE
                log.info("agent %s cannot be rung: %s", agent, exc)
                return False
            channel_id = channel.id
            call.dispatcher.claim(channel_id, call)
            leg_id = await asyncio.shield(writing)
            if leg_id is None:
                acd.distributor.unready(agent)
                return False
            acd.distributor.publish_state(agent, "ringing", call_id=call.id)
            acd.events.publish(AgentRinging(
                call_id=call.id, agent=agent, queue=self.queue, skill=self.skill, caller=masked,
                context=screen_context(call, self.vars, self.lang, self.priority, waited,
                                       overflow_from, await self._recent_calls(),
                                       await self._recent_orders())))
            try:
                answered = await self._await_answer(channel_id, rule.ring_timeout + 2)
            except CallHungUp:
                result = AgentLegResult.FAILED  # the caller left: not the agent's miss
                raise
            if answered is not True:
                result = answered or AgentLegResult.NO_ANSWER
                return False
            result = AgentLegResult.ANSWERED
            await self._talk(assignment, leg_id, channel_id, waited)
            return True
        finally:
            if result != AgentLegResult.ANSWERED:
                if channel_id is not None:
                    with contextlib.suppress(AriError):
                        await call.rest.hangup(channel_id)
                if leg_id is None:
                    leg_id = await _written(writing)
                if leg_id is not None:
                    state = await asyncio.shield(records.ring_failed(
                        acd.db, agent, leg_id, result, channel_id,
                        counts=result != AgentLegResult.FAILED, offline=offline))
                    reason = (OFFLINE if offline else MISSED) if state == "paused" else None
                    acd.distributor.publish_state(agent, state, reason)
                    acd.events.publish(AgentLegEnded(call_id=call.id, agent=agent,
                                                     result=result.value))
                    call.trace.step("agent_no_answer", agent=agent, result=result.value)
            acd.distributor.release(call.id, agent, answered=result == AgentLegResult.ANSWERED
                                    or leg_id is None)

    async def _await_answer(self, channel_id: str,
                            timeout: float) -> bool | AgentLegResult | None:
        """True when the agent answered; the leg's result when the phone never did."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            event = await self.call.next_event(remaining)
            if isinstance(event, StasisStart) and event.channel.id == channel_id:
                return True
            # Only the channel's end tells why: busy/rejected (486, 603) or no answer.
            if isinstance(event, ChannelDestroyed) and event.channel.id == channel_id:
                return AgentLegResult.REJECTED if event.cause in BUSY_CAUSES \
                    else AgentLegResult.NO_ANSWER

    async def _talk(self, assignment: Assignment, leg_id: int, channel_id: str,
                    waited: float) -> None:
        acd, call = self.acd, self.call
        agent = assignment.agent.number
        await records.answered(acd.db, agent, leg_id, channel_id)
        acd.distributor.publish_state(agent, "on_call", call_id=call.id)
        await self._settle_hold()
        await self._leave_holding()
        talk = await Bridge.create(call, "mixing", name=f"talk-{call.id}")
        pick = assignment.pick
        overflow = (await acd.center_id(pick.origin), await acd.center_id(pick.destination)) \
            if pick.overflow else None
        wait = self.wait = await records.close_entry(acd.db, self.entry_id,
                                                     QueueResult.CONNECTED, answered=True,
                                                     overflow=overflow)
        acd.history.record(self.queue, wait or waited)
        acd.events.publish(AgentConnected(call_id=call.id, agent=agent, queue=self.queue,
                                          wait_seconds=wait,
                                          overflow_from=pick.origin if pick.overflow else None))
        call.trace.step("agent_connected", agent=agent, wait=wait,
                        overflow_from=pick.origin if pick.overflow else None)
        await self._record(leg_id)
        await self._converse(agent, leg_id, channel_id, talk, join=True)

    async def _record(self, leg_id: int) -> None:
        """Record from this agent's answer (the call's recording, if already started, goes
        on with a new segment). A failure is logged; the conversation goes ahead."""
        recorder = self.acd.recorder
        if recorder is None:
            return
        try:
            await recorder.start(self.call.id, self.call.channel.name, self.queue,
                                 await self.acd.center_id(self.center))
            await recorder.leg_started(self.call.id, leg_id)
        except RecordingError as exc:
            log.error("%s", exc)

    async def resume_talk(self, agent: str, leg_id: int, talk: TalkLeft) -> None:
        """The platform restarted while caller and agent talked: they still do; see the
        conversation to its end as if nothing had happened."""
        self.acd.distributor.publish_state(agent, "on_call", call_id=self.call.id)
        bridge = Bridge(self.call, talk.bridge_id, "mixing")
        if talk.held:  # on hold when the platform stopped: back with the agent
            with contextlib.suppress(AriError):
                await self.call.rest.stop_moh(self.call.id)
            await bridge.add(self.call.id)
            self.call.trace.step("caller_unheld", resumed=True)
        self.call.trace.step("agent_connected", agent=agent, resumed=True)
        if self.acd.recorder is not None:
            await self.acd.recorder.adopt(self.call.id, self.call.channel.name)
        await self._converse(agent, leg_id, talk.agent_channel, bridge, join=False)

    async def _converse(self, agent: str, leg_id: int, channel_id: str, talk: Bridge,
                        join: bool) -> None:
        """Caller and agent talk, with the call controls (hold, mute, transfers, consult)
        applied, until one hangs up or the caller is transferred to a queue (self.transfer:
        the caller's task takes it there)."""
        conversation = Conversation(self, agent, leg_id, channel_id, talk)
        self.transfer = await conversation.run(join)
