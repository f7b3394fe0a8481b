"""Callbacks: a passenger who asked to be called back is served like a waiting caller. When an
agent with the skill is free (and no live caller of that queue has waited longer), the agent's
phone rings first; once the agent answers, the passenger is dialled and both are bridged.
Attempts (at most 3, 10 minutes apart), results and times are stored; a callback is not an
abandon.

The agent's leg is a call of its own in the Stasis app (argument `callback,<id>,<agent>`); the
passenger's leg belongs to it (argument `agent,<that call's id>`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.acd import records
from app.acd.selection import Assignment, WaitingCall
from app.ari_handlers.bridge import Bridge
from app.ari_handlers.call import Call, CallHungUp
from app.ari_handlers.dispatch import CallHandler
from app.ari_handlers.models import ChannelDestroyed, StasisEnd, StasisStart
from app.ari_handlers.rest import AriError
from app.core.clock import as_utc, now
from app.db.models import AgentLegResult, Callback, CallbackStatus, QueueResult
from app.db.session import Database

if TYPE_CHECKING:
    from app.acd.waiting import Acd

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=10)
PASSENGER_RING = 30  # seconds the passenger's phone rings


def callback_call_id(callback_id: int) -> str:
    return f"callback-{callback_id}"


async def due_callbacks(acd: Acd) -> list[WaitingCall]:
    """Pending callbacks whose time has come, as waiting calls for the distributor."""
    async with acd.db.session() as session:
        due = list(await session.scalars(
            select(Callback).where(Callback.status == CallbackStatus.PENDING,
                                   Callback.next_attempt_at <= now())
            .order_by(Callback.requested_at)))
    names = {v: k for k, v in (await acd.center_ids()).items()}
    return [WaitingCall(callback_call_id(cb.id), cb.queue,
                        cb.skill or acd.rules.skill_for(cb.queue),
                        names.get(cb.center_id or 0, acd.rules.centers.default),
                        entered_at=as_utc(cb.requested_at).timestamp(), callback=True)
            for cb in due]


async def claim(db: Database, callback_id: int) -> bool:
    """Pending -> in progress (one attempt more); False when someone else took it."""
    async with db.session() as session:
        cb = await session.get(Callback, callback_id)
        if cb is None or cb.status != CallbackStatus.PENDING:
            return False
        cb.status, cb.attempts = CallbackStatus.IN_PROGRESS, cb.attempts + 1
        await session.commit()
        return True


async def finish(db: Database, callback_id: int, result: str, done: bool,
                 retry_now: bool = False) -> None:
    """Done, or pending again (10 minutes later) until the third attempt, then failed. An
    attempt the agent's side spoiled (no answer, not ready) is not the passenger's: it does
    not count and the callback goes back in line at once."""
    async with db.session() as session:
        cb = await session.get(Callback, callback_id)
        if cb is None:
            return
        cb.last_result = result
        if retry_now:
            cb.status, cb.attempts = CallbackStatus.PENDING, max(0, cb.attempts - 1)
            cb.next_attempt_at = now()
        elif done:
            cb.status, cb.done_at = CallbackStatus.DONE, now()
        elif cb.attempts >= MAX_ATTEMPTS:
            cb.status, cb.done_at = CallbackStatus.FAILED, now()
        else:
            cb.status, cb.next_attempt_at = CallbackStatus.PENDING, now() + RETRY_AFTER
        await session.commit()


def ring_agent(acd: Acd, assignment: Assignment) -> None:
    """Ring the agent for a callback (in the background); the agent's answer starts
    callback_handler, no answer puts the callback back in line."""
    task = asyncio.create_task(_ring(acd, assignment),
                               name=f"ring-{assignment.call.call_id}")
    acd.tasks.add(task)
    task.add_done_callback(acd.tasks.discard)


async def _ring(acd: Acd, assignment: Assignment) -> None:
    callback_id = int(assignment.call.call_id.removeprefix("callback-"))
    agent = assignment.agent.number
    rule = acd.rules.queue(assignment.call.queue)
    answered = acd.answered_callbacks.setdefault(callback_id, asyncio.Event())
    leg_id: int | None = None
    try:
        async with acd.db.session() as session:
            cb = await session.get(Callback, callback_id)
            call_id = cb.call_id if cb else None
        if call_id is None or not await claim(acd.db, callback_id):
            return
        leg_id = await records.start_ringing(acd.db, agent, call_id, None)
        if leg_id is None:
            await finish(acd.db, callback_id, "agent_not_ready", done=False, retry_now=True)
            return
        entry_id = await records.callback_offer(acd.db, callback_id, leg_id)
        acd.distributor.publish_state(agent, "ringing", call_id=call_id)
        try:
            channel = await acd.rest().originate(
                f"PJSIP/agent-{agent}", acd.app,
                app_args=f"callback,{callback_id},{agent},{leg_id}",
                caller_id=f'"callback {callback_id}" <{agent}>',
                timeout=int(rule.ring_timeout),
                variables={"PJSIP_HEADER(add,X-Hotline-Call-Id)": call_id})
        except AriError as exc:
            log.info("callback %d: agent %s cannot be rung: %s", callback_id, agent, exc)
            channel = None
        if channel is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answered.wait(), rule.ring_timeout + 3)
        if not answered.is_set():
            if channel is not None:
                with contextlib.suppress(AriError):
                    await acd.rest().hangup(channel.id)
            state = await records.ring_failed(acd.db, agent, leg_id, AgentLegResult.NO_ANSWER,
                                              channel.id if channel else None)
            acd.distributor.publish_state(agent, state)
            if entry_id is not None:
                await records.close_entry(acd.db, entry_id, QueueResult.AGENT_MISSED)
            await finish(acd.db, callback_id, "agent_no_answer", done=False, retry_now=True)
            acd.distributor.release(callback_call_id(callback_id), agent)
    finally:
        acd.answered_callbacks.pop(callback_id, None)
        if leg_id is None:
            acd.distributor.release(callback_call_id(callback_id), agent)


def callback_handler(acd: Acd, dial: str) -> CallHandler:
    """The agent answered a callback: dial the passenger (`dial` with {number}) and bridge."""

    async def handle(call: Call) -> None:
        callback_id, agent, leg_id = int(call.args[1]), call.args[2], int(call.args[3])
        if (answered := acd.answered_callbacks.get(callback_id)) is not None:
            answered.set()
        async with acd.db.session() as session:
            cb = await session.get(Callback, callback_id)
        if cb is None:
            await call.hangup()
            return
        await records.answered(acd.db, agent, leg_id, call.id)
        entry_id = await records.leg_entry(acd.db, leg_id)
        acd.distributor.publish_state(agent, "on_call", call_id=call.id)
        call.trace.step("callback", callback=callback_id, attempt=cb.attempts)
        passenger: str | None = None
        result, done = "passenger_no_answer", False
        bridge: Bridge | None = None
        try:
            await call.answer()
            await call.rest.start_moh(call.id)  # the agent hears music while it rings
            try:
                channel = await call.rest.originate(
                    dial.format(number=cb.number), acd.app, app_args=f"agent,{call.id}",
                    caller_id='"12306" <12306>', timeout=PASSENGER_RING)
            except AriError as exc:
                log.warning("callback %d: cannot dial the passenger: %s", callback_id, exc)
                result = "dial_failed"
                return
            passenger = channel.id
            call.dispatcher.claim(passenger, call)
            while True:
                event = await call.next_event(PASSENGER_RING + 5)
                if event is None:
                    return
                if isinstance(event, StasisStart) and event.channel.id == passenger:
                    break
                if isinstance(event, ChannelDestroyed) and event.channel.id == passenger:
                    return
            with contextlib.suppress(AriError):
                await call.rest.stop_moh(call.id)
            bridge = await Bridge.create(call, "mixing", name=f"callback-{callback_id}")
            await bridge.add(call.id)
            await bridge.add(passenger)
            result, done = "connected", True
            if entry_id is not None:
                await records.close_entry(acd.db, entry_id, QueueResult.CONNECTED,
                                          answered=True)
            call.trace.step("callback_connected", callback=callback_id)
            while True:
                event = await call.next_event()
                if isinstance(event, (StasisEnd, ChannelDestroyed)) and \
                        passenger in event.channel_ids():
                    return
        except CallHungUp:
            result = result if done else "agent_hung_up"
            raise
        finally:
            if passenger is not None:
                with contextlib.suppress(AriError):
                    await call.rest.hangup(passenger)
            if bridge is not None:
                await asyncio.shield(bridge.destroy())
            wrap_up = acd.rules.queue(cb.queue).wrap_up
            await asyncio.shield(finish(acd.db, callback_id, result, done))
            if entry_id is not None and not done:
                await asyncio.shield(records.close_entry(acd.db, entry_id,
                                                         QueueResult.UNREACHED))
            await asyncio.shield(records.talk_ended(acd.db, agent, leg_id, wrap_up))
            acd.distributor.publish_state(agent, "wrap_up", call_id=call.id)
            acd.distributor.release(callback_call_id(callback_id), agent)
            acd.wrap_up(agent, wrap_up)

    return handle


