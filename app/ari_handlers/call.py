"""One call as straight async code: `await call.play(...)`, `await call.wait_digit(...)`.

Only the call's own task reads its event queue, so events are handled in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.ari_handlers.bridge import Bridge
from app.ari_handlers.dtmf import RepeatedKeyFilter
from app.ari_handlers.models import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelGone,
    ChannelHangupRequest,
    ChannelTalkingFinished,
    ChannelTalkingStarted,
    Event,
    Notice,
    PlaybackFinished,
    PlaybackStarted,
    RecordingFailed,
    RecordingFinished,
    SpeechRecognized,
    SpeechStarted,
    StasisEnd,
)
from app.ari_handlers.reconcile import TalkLeft
from app.ari_handlers.rest import AriError, AriRest
from app.core.calltrace import SECRET_KEY, CallTrace, EndedBy

if TYPE_CHECKING:
    from app.ari_handlers.dispatch import CallDispatcher

log = logging.getLogger(__name__)

HANGUP_EVENTS = (StasisEnd, ChannelDestroyed, ChannelHangupRequest, ChannelGone)
TERMINATOR_GRACE = 0.8  # seconds to wait for a # after a complete entry
HANGUP_EVENT_WAIT = 1.0  # seconds a vanished channel's hang-up event may lag the 404
# Asterisk's soft hang-up flag (the `cause` of a soft ChannelHangupRequest) for a PBX stop.
SOFTHANGUP_SHUTDOWN = 1 << 2
# How the PBX hangs up a caller whose RTP stopped (see Call._note_hangup).
SOFTHANGUP_DEV = 1  # ChannelHangupRequest.cause of a soft hang-up: AST_SOFTHANGUP_DEV
MEDIA_TIMEOUT_CAUSE = 44  # Q.850 in ChannelDestroyed: AST_CAUSE_REQUESTED_CHAN_UNAVAIL


def _iso(event: Event) -> str | None:
    return event.timestamp.isoformat() if event.timestamp else None


def ended_by(event: Event) -> tuple[EndedBy, str]:
    """Who ended the call, from the event that says it ended."""
    if isinstance(event, ChannelGone):
        return EndedBy(event.by), "channel gone while the PBX link was down"
    if isinstance(event, ChannelHangupRequest) and event.soft and event.cause == SOFTHANGUP_DEV:
        return EndedBy.MEDIA_TIMEOUT, "media timeout"  # the PBX heard no RTP (rtp_timeout)
    if isinstance(event, ChannelDestroyed) and event.cause == MEDIA_TIMEOUT_CAUSE:
        return EndedBy.MEDIA_TIMEOUT, "media timeout"
    if isinstance(event, ChannelHangupRequest) and event.soft \
            and (event.cause or 0) & SOFTHANGUP_SHUTDOWN:
        return EndedBy.PBX_RESTART, "the PBX is shutting down"
    return EndedBy.CALLER, "caller hung up"


class CallHungUp(Exception):
    """The caller's channel is gone; the call's task unwinds."""


@dataclass
class PlayResult:
    finished: bool
    interrupted_by: str | None = None


class Call:
    def __init__(
        self, channel: Channel, rest: AriRest, dispatcher: CallDispatcher, trace: CallTrace,
        args: list[str] | None = None,
    ) -> None:
        self.channel = channel
        self.args = args or []  # Stasis() arguments from the dialplan
        self.id = channel.id
        self.rest = rest
        self.dispatcher = dispatcher
        self.trace = trace
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.hungup = False
        self.digits: deque[str] = deque()  # received and not yet consumed, in order
        self.heard: deque[Any] = deque()  # speech results not yet consumed
        self.speaking = False  # the caller is mid-utterance (while we listen)
        self.notices: deque[Notice] = deque()  # platform notices not yet consumed
        # Picked up after a restart of the platform (its first task is gone), with the agent
        # it was talking to if any.
        self.adopted = False
        self.talk: TalkLeft | None = None
        # While the flow collects a secret (verification digits), the trace hides the keys.
        self.keys_secret = False
        self.key_copies = RepeatedKeyFilter()
        # Why the channel ended, when the PBX said so: the reason of its own soft hang-up
        # (ChannelHangupRequest), the Q.850 cause and text (ChannelDestroyed).
        self.hangup_soft_reason: int | None = None
        self.hangup_cause: int | None = None
        self.hangup_cause_txt: str = ""
        self.media_timed_out = False  # the PBX hung up because the caller's media stopped
        # Prompts playing while the call goes on (the recording notice while an agent's phone
        # rings): playback id -> (media, set once it has finished or the call has ended).
        self.background: dict[str, tuple[str, asyncio.Event]] = {}
        # The PBX's talk detector on the caller's channel (on once detect_talk() was asked):
        # whether it hears the caller now, and who wants to know when that changes.
        self.talk_detection = False
        self.talking = False
        self.talk_watchers: list[Callable[[bool], None]] = []

    def deliver(self, event: Event) -> None:
        if isinstance(event, ChannelTalkingStarted | ChannelTalkingFinished):
            if event.channel.id == self.id:
                self.talking = isinstance(event, ChannelTalkingStarted)
                for watcher in list(self.talk_watchers):
                    watcher(self.talking)
            return  # nobody waits for these in the call's queue
        # Seen as it arrives, not when the call's task reads it: that task may be busy with
        # something else (ringing an agent) when a background prompt ends.
        if isinstance(event, PlaybackFinished) and event.playback.id in self.background:
            media, done = self.background.pop(event.playback.id)
            self.trace.step("played", media=media, background=True)
            done.set()
        elif isinstance(event, HANGUP_EVENTS) and self.id in event.channel_ids():
            for _, done in self.background.values():
                done.set()
            self.background.clear()
        self.queue.put_nowait(event)

    async def detect_talk(self, level: int, silence_ms: int = 1200) -> None:
        """Turn the PBX's talk detector on for the caller's channel (once per call): talking
        starts when a frame's mean magnitude passes `level`, ends after `silence_ms`."""
        if not self.talk_detection:
            await self.rest.set_variable(self.id, "TALK_DETECT(set)", f"{silence_ms},{level}")
            self.talk_detection = True

    async def play_in_background(self, media: str | list[str]) -> asyncio.Event:
        """Start playing and return at once; the event is set when it has finished (or the
        call has ended). The PBX runs a channel's requests in order: a bridge the caller is
        added to or music started meanwhile take effect after it, so it is heard whole."""
        playback_id = str(uuid.uuid4())
        name = media if isinstance(media, str) else ",".join(media)
        done = asyncio.Event()
        self.background[playback_id] = (name, done)
        self.trace.step("play", media=name, background=True)
        try:
            await self.rest.play(self.id, media, playback_id=playback_id)
        except BaseException:
            self.background.pop(playback_id, None)
            done.set()
            raise
        return done

    def hide_keys(self, secret: bool, typed_ahead: int = 0) -> None:
        """Keys from now on, and up to `typed_ahead` keys typed ahead and not yet read, are
        traced without their value."""
        self.keys_secret = secret
        if secret and self.digits:
            self.trace.hide_pending_keys(list(self.digits), typed_ahead)

    def _shown(self, digit: str) -> str:
        return SECRET_KEY if self.keys_secret else digit

    # What a listener tells the call (a speech recogniser consuming this call's audio tap);
    # they arrive in order with the PBX's events.
    def speech_started(self) -> None:
        self.deliver(SpeechStarted(type="SpeechStarted", channel_id=self.id))

    def speech_heard(self, result: Any) -> None:
        self.deliver(SpeechRecognized(type="SpeechRecognized", channel_id=self.id, result=result))

    async def gone(self) -> bool:
        """Whether the caller's channel has left (a request failed because the caller hung up
        while it was on its way, or the PBX is going away); marks the call hung up if so."""
        if self.hungup:
            return True
        try:
            await self.rest.get_channel(self.id)
            return False
        except AriError as exc:
            if exc.status in (0, 503):  # unreachable or shutting down: gone with the PBX
                self.hungup = True
                self.trace.ended(EndedBy.PBX_RESTART, "the PBX went away")
                self.trace.step("hangup", event="PBX unavailable")
                return True
            if exc.status != 404:
                return False
        # Its hang-up event tells who ended it (the caller, the PBX shutting down): it is on
        # its way if not already queued.
        deadline = time.monotonic() + HANGUP_EVENT_WAIT
        try:
            while (left := deadline - time.monotonic()) > 0:
                await self.next_event(left)
        except CallHungUp:
            return True
        self.hungup = True
        self.trace.ended(EndedBy.CALLER, "caller hung up")
        self.trace.step("hangup", event="channel gone")
        return True

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event of this call, None on timeout; raises CallHungUp when it ends.

        Asterisk's second copy of a key (app/ari_handlers/dtmf.py) is no event: it is noted
        in the trace and skipped, so it neither counts as a key nor stops a prompt.
        """
        if self.hungup:
            raise CallHungUp(self.id)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                event = await asyncio.wait_for(self.queue.get(), remaining)
            except TimeoutError:
                return None
            if not (isinstance(event, ChannelDtmfReceived) and event.channel.id == self.id
                    and self.key_copies.is_copy(event)):
                break
            self.trace.step("dtmf_copy_dropped", ari_ts=_iso(event))
        if isinstance(event, HANGUP_EVENTS) and self.id in event.channel_ids():
            self.hungup = True
            self._note_hangup(event)
            self.trace.ended(*ended_by(event))
            self.trace.step("hangup", event=event.type,
                            **({"by": "media timeout"} if self.media_timed_out else {}))
            raise CallHungUp(self.id)
        if isinstance(event, ChannelDtmfReceived) and event.channel.id == self.id:
            self.digits.append(event.digit)
            self.trace.step("dtmf", digit=self._shown(event.digit), ari_ts=_iso(event),
                            **({"hidden": True} if self.keys_secret else {}))
        elif isinstance(event, SpeechStarted):
            self.speaking = True
            self.trace.step("speech_started")
        elif isinstance(event, SpeechRecognized):
            self.speaking = False
            self.heard.append(event.result)
        elif isinstance(event, Notice):
            self.notices.append(event)
        return event

    def _note_hangup(self, event: Event) -> None:
        """Why the channel ended, as far as the PBX says so (verified on Asterisk 22.10).

        The PBX hangs a caller up for dead media (res_pjsip_sdp_rtp: no RTP for rtp_timeout,
        or rtp_timeout_hold while the phone holds the call) by setting the Q.850 cause 44 and
        a soft hang-up of reason AST_SOFTHANGUP_DEV: ARI sends ChannelHangupRequest with
        soft=true, cause=1 (that `cause` is the soft hang-up reason, not Q.850). A caller's
        BYE is a ChannelHangupRequest without soft or cause; our own DELETE is soft with
        reason 32 (explicit). The Q.850 cause (44, "Requested channel not available", against
        0 "Unknown" after a BYE) is only in ChannelDestroyed, which comes after StasisEnd, when
        the app is no longer subscribed to the channel: the call rarely sees it. The other
        users of AST_SOFTHANGUP_DEV hang up channels replaced in SIP transfers, which callers
        in this platform do not make.
        """
        if isinstance(event, ChannelDestroyed):
            self.hangup_cause, self.hangup_cause_txt = event.cause, event.cause_txt
            self.media_timed_out = event.cause == MEDIA_TIMEOUT_CAUSE
        elif isinstance(event, ChannelHangupRequest) and event.soft:
            self.hangup_soft_reason = event.cause
            self.media_timed_out = event.cause == SOFTHANGUP_DEV

    async def answer(self) -> None:
        await self.rest.answer(self.id)
        self.trace.answered_at = time.time()
        self.trace.step("answered")

    async def play(
        self, media: str | list[str], *, interrupt_on_dtmf: bool = False,
        interrupt_on_speech: bool = False,
    ) -> PlayResult:
        """Play and wait for the end; a key (or the caller speaking) can stop it (barge-in)."""
        if interrupt_on_dtmf and self.digits:
            return PlayResult(finished=False, interrupted_by=self.digits[0])
        if interrupt_on_speech and (self.speaking or self.heard):
            return PlayResult(finished=False, interrupted_by="speech")
        playback_id = str(uuid.uuid4())
        name = media if isinstance(media, str) else ",".join(media)
        self.trace.step("play", media=name)
        await self.rest.play(self.id, media, playback_id=playback_id)
        try:
            return await self._until_played(playback_id, name, interrupt_on_dtmf,
                                             interrupt_on_speech)
        except asyncio.CancelledError:
            # Whatever comes next (a farewell, another prompt) must not queue behind it.
            with contextlib.suppress(AriError):
                await asyncio.shield(self._stop_playback(playback_id))
            raise

    async def _until_played(self, playback_id: str, name: str, interrupt_on_dtmf: bool,
                            interrupt_on_speech: bool) -> PlayResult:
        while True:
            event = await self.next_event()
            if isinstance(event, PlaybackStarted) and event.playback.id == playback_id:
                # PBX clock, for latency figures (key pressed -> next prompt audible).
                self.trace.step("play_started", media=name, ari_ts=_iso(event))
            if isinstance(event, PlaybackFinished) and event.playback.id == playback_id:
                self.trace.step("played", media=name)
                return PlayResult(finished=True)
            if isinstance(event, ChannelDtmfReceived) and interrupt_on_dtmf:
                await self._stop_playback(playback_id)
                self.trace.step("interrupted", media=name, digit=self._shown(event.digit))
                return PlayResult(finished=False, interrupted_by=event.digit)
            if isinstance(event, SpeechStarted) and interrupt_on_speech:
                await self._stop_playback(playback_id)
                self.trace.step("interrupted", media=name, by="speech")
                return PlayResult(finished=False, interrupted_by="speech")

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

    async def wait_input(self, timeout: float, max_utterance: float = 13.0) -> str | Any | None:
        """The next key, or speech result, None after timeout. An utterance already under way
        at the timeout gets up to max_utterance seconds more to finish."""
        deadline = time.monotonic() + timeout
        extended = False
        while True:
            if self.digits:
                return self.digits.popleft()
            if self.heard:
                return self.heard.popleft()
            if self.speaking and not extended:
                deadline, extended = max(deadline, time.monotonic() + max_utterance), True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await self.next_event(remaining)

    async def collect(
        self, max_digits: int, terminator: str = "#", timeout: float = 6.0,
        inter_digit_timeout: float = 4.0,
    ) -> str:
        """Keys up to max_digits or the terminator (not included); "" when nothing came.

        Keys typed ahead (during a prompt) count: the caller need not wait for the prompt.
        """
        digits = ""
        wait = timeout
        while len(digits) < max_digits:
            key = await self.wait_digit(wait)
            if key is None:
                break
            if terminator and key == terminator:
                break
            digits += key
            wait = inter_digit_timeout
        if digits and len(digits) >= max_digits and terminator:
            # Callers often end a full entry with # anyway: absorb it, so the next menu does
            # not take it as a wrong key. Any other key stays for the next step.
            key = await self.wait_digit(TERMINATOR_GRACE)
            if key is not None and key != terminator:
                self.digits.appendleft(key)
        return digits

    def flush_digits(self) -> None:
        self.digits.clear()

    async def record(self, name: str, max_seconds: int, beep: bool = True) -> str | None:
        """Record the caller until # or max_seconds; the recording's name, None if it failed.

        If the caller hangs up, Asterisk keeps what was recorded; CallHungUp still propagates.
        """
        self.trace.step("record", name=name)
        await self.rest.record(self.id, name, fmt="wav", max_duration=max_seconds,
                               max_silence=0, beep=beep, terminate_on="#")
        while True:
            event = await self.next_event()
            if isinstance(event, RecordingFinished) and event.recording.name == name:
                self.trace.step("recorded", name=name, seconds=event.recording.duration)
                # The # that ended the recording is not a menu choice.
                if self.digits and self.digits[-1] == "#":
                    self.digits.pop()
                return name
            if isinstance(event, RecordingFailed) and event.recording.name == name:
                self.trace.step("record_failed", name=name, cause=event.recording.cause)
                return None

    async def hold(self, announcement: str, every: float, max_wait: float) -> None:
        """Music on hold in a holding bridge, the announcement every `every` seconds.

        Returns after max_wait; ends early only by the caller hanging up (CallHungUp).
        Music and announcements go to the caller's own channel: ARI's bridge music and bridge
        playback each create an Announcer channel pair, and creating those while other calls
        come and go deadlocks Asterisk 22's channel store (ao2_legacy) within minutes at 40
        callers.
        """
        bridge = await Bridge.create(self, "holding", name=f"hold-{self.id}")
        try:
            await bridge.add(self.id)
            await self.rest.start_moh(self.id)
            self.trace.step("hold", bridge=bridge.id)
            deadline = time.monotonic() + max_wait
            while time.monotonic() < deadline:
                next_prompt = min(deadline, time.monotonic() + every)
                while time.monotonic() < next_prompt:
                    await self.next_event(next_prompt - time.monotonic())
                if time.monotonic() >= deadline:
                    break
                await self.rest.stop_moh(self.id)
                await self._play_while_held(announcement)
                await self.rest.start_moh(self.id)
        finally:
            await asyncio.shield(bridge.destroy())

    async def _play_while_held(self, media: str) -> None:
        """The announcement to the held caller; keys pressed meanwhile do not stop it."""
        playback_id = str(uuid.uuid4())
        self.trace.step("play", media=media, target="hold")
        await self.rest.play(self.id, media, playback_id)
        while True:
            event = await self.next_event(60)
            if event is None or (isinstance(event, PlaybackFinished)
                                 and event.playback.id == playback_id):
                return

    async def hangup(self, reason: str = "normal") -> None:
        if self.hungup:
            return
        self.hungup = True
        self.trace.ended(EndedBy.PLATFORM, f"hung up by hotline ({reason})")
        try:
            await self.rest.hangup(self.id, reason)
        except AriError as exc:
            if exc.status != 404:
                log.warning("hang-up failed: %s", exc)
