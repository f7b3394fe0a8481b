"""Route every ARI event by channel id to the owning call; one task per call, in order."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from app.ari_handlers.call import Call, CallHungUp
from app.ari_handlers.models import ChannelGone, Event, StasisStart
from app.ari_handlers.rest import AriError, AriRest
from app.core.calltrace import CallTrace, RecentCalls
from app.logs import call_id_var
from app.services.masking import mask_phone

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]
LEG_ARGS = frozenset({"agent"})  # first Stasis argument of channels that belong to a call


class CallDispatcher:
    def __init__(self, rest: AriRest, handler: CallHandler, recent: RecentCalls | None = None):
        self.rest = rest
        self.handler = handler
        self.recent = recent or RecentCalls()
        self.calls: dict[str, Call] = {}
        self._owners: dict[str, Call] = {}  # every channel a call owns -> that call
        self._named: dict[str, Call] = {}  # text in a helper channel's name -> its call
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.unrouted = 0

    def claim(self, channel_id: str, call: Call) -> None:
        """Route a helper channel's events (externalMedia, an agent leg) to an existing call.

        Claim before creating the channel (pass its id to ARI) so no event can arrive first.
        """
        self._owners[channel_id] = call

    def claim_named(self, marker: str, call: Call) -> None:
        """Route a helper channel Asterisk names itself (its name contains `marker`) to a call.

        For channels created without an id of ours: ARI's channelId/snoopId make Asterisk look
        the id up while holding its channel store lock, which deadlocks under load.
        """
        self._named[marker] = call

    def _owner_by_name(self, event: StasisStart) -> Call | None:
        for marker, call in self._named.items():
            if marker in event.channel.name:
                self._owners[event.channel.id] = call
                return call
        return None

    def _owner_by_args(self, event: StasisStart) -> Call | None:
        """A channel originated for a call (an agent leg) names that call in its Stasis
        arguments (`agent,<call id>`): it joins that call even if it answers before the
        originate request has returned."""
        args = event.args
        if len(args) >= 2 and args[0] in LEG_ARGS and (owner := self.calls.get(args[1])):
            self._owners[event.channel.id] = owner
            return owner
        return None

    def dispatch(self, event: Event) -> None:
        ids = event.channel_ids()
        for channel_id in ids:
            owner = self._owners.get(channel_id)
            if owner is not None:
                owner.deliver(event)
                return
        if isinstance(event, StasisStart):
            if (owner := self._owner_by_name(event) or self._owner_by_args(event)) is not None:
                owner.deliver(event)
                return
            self._start_call(event)
            return
        self.unrouted += 1
        log.debug("no call owns %s for %s", event.type, ids)

    def _start_call(self, event: StasisStart) -> None:
        channel = event.channel
        trace = CallTrace(
            call_id=channel.id, caller=channel.caller.number,
            called=channel.dialplan.exten if channel.dialplan else "",
        )
        self.recent.add(trace)
        call = Call(channel, self.rest, self, trace, event.args)
        self.calls[call.id] = call
        self._owners[call.id] = call
        self._tasks[call.id] = asyncio.create_task(self._run(call), name=f"call-{call.id}")

    async def _run(self, call: Call) -> None:
        call_id_var.set(call.id)
        # The number masked; the call id on every line of this call follows the caller.
        log.info("call from %s started", mask_phone(call.trace.caller) or "unknown")
        try:
            await self.handler(call)
        except CallHungUp:
            pass
        except asyncio.CancelledError:
            call.trace.end_reason = call.trace.end_reason or "service stopping"
            await asyncio.shield(call.hangup("normal"))
            raise
        except AriError as exc:
            if exc.status == 404:  # the channel vanished under a request: a hang-up
                call.trace.end_reason = call.trace.end_reason or "caller hung up"
            else:
                log.error("call failed: %s", exc)
                call.trace.end_reason = call.trace.end_reason or f"error: {exc}"
        except Exception as exc:
            log.exception("call handler crashed")
            call.trace.end_reason = call.trace.end_reason or f"error: {type(exc).__name__}"
        finally:
            if not call.hungup:
                await call.hangup("normal")
            call.trace.ended_at = time.time()
            self._forget(call)
            log.info("call ended: %s", call.trace.end_reason or "done")

    def _forget(self, call: Call) -> None:
        self.calls.pop(call.id, None)
        self._tasks.pop(call.id, None)
        for channel_id in [c for c, owner in self._owners.items() if owner is call]:
            del self._owners[channel_id]
        for marker in [m for m, owner in self._named.items() if owner is call]:
            del self._named[marker]

    async def resync(self) -> None:
        """After a reconnect: end the calls whose channels vanished while we were away."""
        if not self.calls:
            return
        live = {c.id for c in await self.rest.list_channels()}
        for call_id, call in list(self.calls.items()):
            if call_id not in live:
                log.info("channel %s gone during reconnect; ending its call", call_id)
                call.deliver(ChannelGone(type="ChannelGone", channel_id=call_id))

    async def shutdown(self) -> None:
        """Cancel every call task (each hangs up its channel) and wait for them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
