"""The hotline's Stasis app: every call runs the configured flow and leaves a complete record."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.ari_handlers.call import Call, CallHungUp
from app.ari_handlers.dispatch import CallHandler
from app.ari_handlers.rest import AriError
from app.ari_handlers.stasis_app import note_sip_call_id
from app.core.calltrace import EndedBy
from app.db.models import CallOutcome, QueueResult
from app.db.session import Database
from app.events import CallEnded, CallStarted, EventFeed, QueueLeft
from app.ivr.context import CallContext, Voice
from app.ivr.library import FlowLibrary
from app.ivr.model import Flow
from app.ivr.runner import FlowRunner
from app.services import call_records, outcomes
from app.services.masking import mask_phone
from app.services.throttle import LookupThrottle

if TYPE_CHECKING:
    from app.acd.waiting import Acd
    from app.ivr.listening import CallerSpeech

log = logging.getLogger(__name__)


# Channel variables the dialplan services set (app/agi) and the flow variables they become.
DIALPLAN_VARS = {"HOTLINE_LANG": "caller_lang", "HOTLINE_PRIORITY": "priority",
                 "HOTLINE_REPEAT": "repeat", "HOTLINE_OPEN": "open", "HOTLINE_MODE": "mode"}


async def dialplan_vars(call: Call) -> tuple[str, dict[str, str]]:
    """(menu variant, flow variables) from what the dialplan services set on the channel;
    a variable that is not there (no AGI on this dialplan) is left out."""
    names = ["HOTLINE_FLOW", *DIALPLAN_VARS]
    carried = call.channel.channelvars
    if carried is not None and all(n in carried for n in names):
        found = {n: carried[n] for n in names if carried[n]}  # from the call's event
    else:  # a PBX whose ari.conf does not pass them on: one request each
        got = await asyncio.gather(*(call.rest.get_variable(call.id, n) for n in names),
                                   return_exceptions=True)
        found = {n: v for n, v in zip(names, got, strict=True) if isinstance(v, str) and v}
    flow_vars = {DIALPLAN_VARS[n]: v for n, v in found.items() if n in DIALPLAN_VARS}
    if "priority" in flow_vars:
        flow_vars["priority"] = "true" if flow_vars["priority"] == "1" else "false"
    if "open" in flow_vars:
        flow_vars["open"] = "false" if flow_vars["open"] == "0" else "true"
    return found.get("HOTLINE_FLOW", ""), flow_vars


def ivr_handler(flow: Flow | FlowLibrary, db: Database, voice: Voice,
                speech: Callable[[], CallerSpeech | None] = lambda: None,
                events: EventFeed | None = None,
                acd: Callable[[], Acd | None] = lambda: None,
                throttle: LookupThrottle | None = None, node: str | None = None) -> CallHandler:
    """Runs a flow for every call: the one flow given, or from a library the menu variant the
    dialplan's route service chose for the called number (HOTLINE_FLOW). `node`: this
    platform node's name, kept in each call's record."""
    feed = events or EventFeed()
    lookups = throttle or LookupThrottle()
    library = flow if isinstance(flow, FlowLibrary) else FlowLibrary({flow.name: flow}, flow.name)

    async def handle(call: Call) -> None:
        call.trace.node = node
        await note_sip_call_id(call)
        ears = speech()
        (variant, flow_vars), _ = await asyncio.gather(
            dialplan_vars(call), ears.prepare(call) if ears is not None else asyncio.sleep(0))
        flow = library.get(variant)
        if variant:
            call.trace.step("dialplan", flow=flow.name, **flow_vars)
        try:
            async with db.session() as session:
                await call_records.open_call(session, call.trace, reopen=call.adopted)
                await session.commit()
        except Exception:  # the database is slow or away: serve the caller, store it at the end
            log.exception("could not open the call record; it is written when the call ends")
        feed.publish(CallStarted(call_id=call.id, caller=mask_phone(call.trace.caller) or "",
                                 called=call.trace.called))
        ctx = CallContext(db=db, voice=voice, call_id=call.id, caller=call.trace.caller,
                          speech=ears, events=feed, acd=acd(), throttle=lookups,
                          vars=flow_vars)
        try:
            if call.adopted:  # answered long ago, by the process that died
                await FlowRunner(flow, call, ctx).resume()
                return
            await call.answer()
            if call.dispatcher.closing:
                call.trace.ended(EndedBy.SHUTDOWN, "service stopping")
                await _farewell(call, ctx)
                return
            await FlowRunner(flow, call, ctx).run()
        except CallHungUp:
            raise
        except asyncio.CancelledError:
            if call.trace.ended_by == EndedBy.SHUTDOWN and not call.hungup:
                await asyncio.shield(_farewell(call, ctx))
            raise
        except Exception as exc:
            if isinstance(exc, AriError) and await call.gone():
                raise CallHungUp(call.id) from exc  # hung up before the answer reached it
            ctx.outcome, ctx.outcome_reason = CallOutcome.ERROR, "technical error"
            log.exception("flow failed")
            raise
        finally:
            outcome = await asyncio.shield(_close(db, call, ctx))
            feed.publish(CallEnded(call_id=call.id, outcome=outcome.value,
                                   reason=ctx.outcome_reason,
                                   ended_by=(call.trace.ended_by or EndedBy.PLATFORM).value))

    return handle


CLOSE_TRIES = 3  # a busy database (SQLite's lock) gets a second and a third chance
FAREWELL_LIMIT = 10.0  # seconds: a stop waits no longer for the message to be heard


async def _farewell(call: Call, ctx: CallContext) -> None:
    """Tell the caller the service is restarting (the platform is stopping), then let go."""
    try:
        with contextlib.suppress(AriError):
            await call.rest.stop_moh(call.id)
        call.trace.step("prompt", prompt="service_restarting", lang=ctx.lang)
        media = ctx.voice.prompt_media("service_restarting", ctx.lang)
        await asyncio.wait_for(call.play(media), FAREWELL_LIMIT)
    except (CallHungUp, AriError, TimeoutError):
        pass


def still_waiting(steps: list[dict[str, Any]]) -> bool:
    """Whether the caller was in a queue, not yet with an agent, when the call ended."""
    kinds = [s["kind"] for s in steps]
    if "enqueue" not in kinds:
        return False
    since = kinds[len(kinds) - 1 - kinds[::-1].index("enqueue"):]
    return "dequeued" not in since and "agent_connected" not in since


async def _close(db: Database, call: Call, ctx: CallContext) -> CallOutcome:
    """Store the call's record (and close a queue entry left open); returns the outcome."""
    ended_by = call.trace.ended_by or EndedBy.PLATFORM
    outcome = outcomes.call_outcome(ctx.outcome, ended_by,
                                    waiting=still_waiting(call.trace.steps))
    for attempt in range(1, CLOSE_TRIES + 1):
        try:
            await _store(db, call, ctx, ended_by, outcome)
            break
        except Exception:
            if attempt == CLOSE_TRIES:
                log.exception("could not store the call record")
            else:
                log.warning("storing the call record failed (try %d of %d)", attempt,
                            CLOSE_TRIES, exc_info=True)
                await asyncio.sleep(attempt)
    return outcome


async def _store(db: Database, call: Call, ctx: CallContext, ended_by: EndedBy,
                 outcome: CallOutcome) -> None:
    """One transaction: the queue entry left open (if any) and the call's record."""
    left: QueueResult | None = None
    async with db.session() as session:
        if ctx.queue_entry_id is not None:
            # No agent answers yet: a wait that did not end in a hang-up was ended by us.
            left = (outcomes.queue_result(ended_by) if ctx.outcome == CallOutcome.ABANDONED
                    else QueueResult.ENDED_BY_PLATFORM)
            await call_records.leave_queue(session, ctx.queue_entry_id, left)
        await call_records.close_call(session, call.trace, language=ctx.lang,
                                      priority=ctx.priority, outcome=outcome,
                                      reason=ctx.outcome_reason, ended_by=ended_by)
        await session.commit()
    if left is not None and ctx.queue_entry_id is not None:
        ctx.events.publish(QueueLeft(call_id=call.id, queue=ctx.queue or "", result=left,
                                     entry_id=ctx.queue_entry_id))
