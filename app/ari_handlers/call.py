"""One call as straight async code: `await call.play(...)`, `await call.wait_digit(...)`.

Only the call's own task reads its event queue, so events are handled in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.ari_handlers.models import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelGone,
    ChannelHangupRequest,
    Event,
    PlaybackFinished,
    StasisEnd,
)
from app.ari_handlers.rest import AriError, AriRest
from app.ari_handlers.tracking import CallTrace

if TYPE_CHECKING:
    from app.ari_handlers.dispatch import CallDispatcher

log = logging.getLogger(__name__)

HANGUP_EVENTS = (StasisEnd, ChannelDestroyed, ChannelHangupRequest, ChannelGone)


class CallHungUp(Exception):
    """The caller's channel is gone; the call's task unwinds."""


@dataclass
class PlayResult:
    finished: bool
    interrupted_by: str | None = None


class Call:
    def __init__(
        self, channel: Channel, rest: AriRest, dispatcher: CallDispatcher, trace: CallTrace
    ) -> None:
        self.channel = channel
        self.id = channel.id
        self.rest = rest
        self.dispatcher = dispatcher
        self.trace = trace
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.hungup = False
        self.digits: deque[str] = deque()  # received and not yet consumed, in order

    def deliver(self, event: Event) -> None:
        self.queue.put_nowait(event)

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event of this call, None on timeout; raises CallHungUp when it ends."""
        if self.hungup:
            raise CallHungUp(self.id)
        try:
            event = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        if isinstance(event, HANGUP_EVENTS) and self.id in event.channel_ids():
            self.hungup = True
            self.trace.end_reason = self.trace.end_reason or "caller hung up"
            self.trace.step("hangup", event=event.type)
            raise CallHungUp(self.id)
        if isinstance(event, ChannelDtmfReceived) and event.channel.id == self.id:
            self.digits.append(event.digit)
            self.trace.step("dtmf", digit=event.digit)
        return event

    async def answer(self) -> None:
        await self.rest.answer(self.id)
        self.trace.answered_at = time.time()
        self.trace.step("answered")

    async def play(self, media: str | list[str], *, interrupt_on_dtmf: bool = False) -> PlayResult:
        """Play and wait for the end; with interrupt_on_dtmf a key stops it (barge-in)."""
        if interrupt_on_dtmf and self.digits:
            return PlayResult(finished=False, interrupted_by=self.digits[0])
        playback_id = str(uuid.uuid4())
        name = media if isinstance(media, str) else ",".join(media)
        self.trace.step("play", media=name)
        await self.rest.play(self.id, media, playback_id=playback_id)
        while True:
            event = await self.next_event()
            if isinstance(event, PlaybackFinished) and event.playback.id == playback_id:
                self.trace.step("played", media=name)
                return PlayResult(finished=True)
            if isinstance(event, ChannelDtmfReceived) and interrupt_on_dtmf:
                await self._stop_playback(playback_id)
                self.trace.step("interrupted", media=name, digit=event.digit)
                return PlayResult(finished=False, interrupted_by=event.digit)

    async def _stop_playback(self, playback_id: str) -> None:
        try:
            await self.rest.stop_playback(playback_id)
        except AriError as exc:
            if exc.status != 404:  # 404: it had just finished
                raise

    async def wait_digit(self, timeout: float | None = None) -> str | None:
        """The next key the caller pressed (buffered ones first), None after timeout seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.digits:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            await self.next_event(remaining)
        return self.digits.popleft()

    async def hangup(self, reason: str = "normal") -> None:
        if self.hungup:
            return
        self.hungup = True
        self.trace.end_reason = self.trace.end_reason or f"hung up by hotline ({reason})"
        try:
            await self.rest.hangup(self.id, reason)
        except AriError as exc:
            if exc.status != 404:
                log.warning("hang-up failed: %s", exc)
