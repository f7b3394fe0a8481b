"""Route every ARI event by channel id to the owning call; one task per call, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from app.ari_handlers.call import Call, CallHungUp
from app.ari_handlers.models import Channel, ChannelGone, Event, StasisStart
from app.ari_handlers.reconcile import Leftovers, TalkLeft, find_leftovers
from app.ari_handlers.rest import AriError, AriRest
from app.core.calltrace import CallTrace, EndedBy, RecentCalls
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
        self._chores: set[asyncio.Task[None]] = set()  # fire-and-forget requests (hang-ups)
        self.unrouted = 0
        self.closing = False  # draining for a stop: new calls are told to call again later
        self.stopped = False  # ending the calls for a stop: a new caller is only hung up

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
            if event.args and event.args[0] in LEG_ARGS:
                # A leg of a call no task owns (its caller left, or the platform restarted
                # while it rang): nobody would ever bridge it.
                log.info("hanging up %s: its call is gone", event.channel.name)
                self._spawn(self.rest.hangup(event.channel.id), f"drop-{event.channel.id}")
                return
            if self.stopped:
                # Too late even for the restart message: the connection to the PBX is
                # about to close, and a call started now would outlive it.
                log.info("hanging up %s: the service is stopping", event.channel.name)
                self._spawn(self.rest.hangup(event.channel.id), f"drop-{event.channel.id}")
                return
            self._start_call(event)
            return
        self.unrouted += 1
        log.debug("no call owns %s for %s", event.type, ids)

    def _start_call(self, event: StasisStart) -> Call:
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
        return call

    def owns(self, resource_id: str) -> bool:
        return resource_id in self._owners

    def adopt(self, channel: Channel, talk: TalkLeft | None = None) -> Call:
        """Run the call handler for a caller already in our app (its task is gone): the
        handler sees `call.adopted` and picks the call up where it can."""
        call = self._start_call(StasisStart(type="StasisStart", channel=channel, args=[]))
        call.adopted = True
        call.talk = talk
        if talk is not None:
            self._owners[talk.agent_channel] = call
            self._owners[talk.bridge_id] = call
        call.trace.step("adopted", talking=talk is not None)
        return call

    async def reconcile(self, app: str, min_age: float = 0.0) -> Leftovers:
        """Own everything of our app on the PBX: adopt callers no task owns, hang up helper
        channels and destroy bridges nobody owns (those older than `min_age` seconds)."""
        if self.closing:
            return Leftovers()  # stopping: nothing is adopted any more
        found = await find_leftovers(self.rest, app, self.owns, min_age)
        for bridge in found.destroy:
            with contextlib.suppress(AriError):
                await self.rest.destroy_bridge(bridge.id)
        for channel in found.hang_up:
            with contextlib.suppress(AriError):
                await self.rest.hangup(channel.id)
        for channel in found.callers:
            trace = self.recent.get(channel.id)
            if trace is not None and trace.ended_at is not None:
                # A call this process already ended (its hang-up failed, or is on its way):
                # it is over, not to be taken up again.
                with contextlib.suppress(AriError):
                    await self.rest.hangup(channel.id)
                continue
            self.adopt(channel, found.talks.get(channel.id))
        if found:
            log.info("reconciled: %d callers adopted (%d talking to an agent), %d channels "
                     "hung up, %d bridges destroyed", len(found.callers), len(found.talks),
                     len(found.hang_up), len(found.destroy))
        return found

    async def _run(self, call: Call) -> None:
        call_id_var.set(call.id)
        # The number masked; the call id on every line of this call follows the caller.
        log.info("call from %s started", mask_phone(call.trace.caller) or "unknown")
        try:
            await self.handler(call)
        except CallHungUp:
            pass
        except asyncio.CancelledError:
            call.trace.ended(EndedBy.SHUTDOWN, "service stopping")
            await asyncio.shield(call.hangup("normal"))
            raise
        except AriError as exc:
            if exc.status == 404:  # the channel vanished under a request: a hang-up
                call.trace.ended(EndedBy.CALLER, "caller hung up")
            else:
                log.error("call failed: %s", exc)
                call.trace.ended(EndedBy.ERROR, f"error: {exc}")
        except Exception as exc:
            log.exception("call handler crashed")
            call.trace.ended(EndedBy.ERROR, f"error: {type(exc).__name__}")
        finally:
            try:
                if not call.hungup:
                    await asyncio.shield(call.hangup("normal"))
            finally:  # a stop cancelling the hang-up must not leave the call listed
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

    def _spawn(self, work: Awaitable[object], name: str) -> None:
        async def run() -> None:
            try:
                await work
            except AriError as exc:
                log.info("%s: %s", name, exc)

        task = asyncio.create_task(run(), name=name)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def drain(self, grace: float) -> int:
        """Stop taking calls and let the calls in progress finish, for up to `grace` seconds;
        returns how many are still going. New callers meanwhile hear that the service is
        restarting (the call handler looks at `closing`)."""
        self.closing = True
        if self._tasks:
            log.info("draining: %d calls in progress, waiting up to %.0f s", len(self._tasks),
                     grace)
        deadline = time.monotonic() + grace
        while self._tasks and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(list(self._tasks.values()), timeout=left)
        return len(self._tasks)

    async def shutdown(self, grace: float = 15.0) -> None:
        """End every call still going (each is told why, then hung up) and wait for them."""
        self.closing = self.stopped = True
        tasks = list(self._tasks.values())
        for call in list(self.calls.values()):
            call.trace.ended(EndedBy.SHUTDOWN, "service stopping")
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:  # a farewell that hangs: do not hold the stop up
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # A hang-up may have been started while waiting for the others: wait for it too.
        while chores := [t for t in self._chores if not t.done()]:
            await asyncio.gather(*chores, return_exceptions=True)
