"""The running platform, composed in one place: the event feed, media taps, speech, the Stasis
app's ARI client and the AMI link, started in that order and stopped in reverse; its health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from app.ami.feed import AmiEventFeed
from app.ami.link import AmiLink
from app.ari_handlers.client import AriClient
from app.ari_handlers.dispatch import CallHandler
from app.ari_handlers.media import MediaTaps
from app.config import Settings
from app.events import EventFeed
from app.pbx.secrets import Credentials

if TYPE_CHECKING:
    from app.acd.waiting import Acd
    from app.agi.server import AgiServer
    from app.asr.live import SpeechService
    from app.ivr.library import FlowLibrary
    from app.recordings.analysis import RecordingAnalytics
    from app.wall.live import Wall
    from app.wall.monitor import Monitors

log = logging.getLogger(__name__)

STALL_WARN = 0.5  # seconds the event loop may lag before it is logged


async def watch_event_loop(period: float = 1.0) -> None:
    """Log when the event loop falls behind: every call's prompts and keys wait on it."""
    while True:
        started = time.monotonic()
        await asyncio.sleep(period)
        lag = time.monotonic() - started - period
        if lag > STALL_WARN:
            log.warning("event loop stalled for %.2f s", lag)


class Platform:
    def __init__(
        self, settings: Settings, creds: Credentials, handler: CallHandler,
        start_speech: Callable[[], Awaitable[SpeechService | None]] | None = None,
        events: EventFeed | None = None,
        acd: Acd | None = None,
        agi: AgiServer | None = None,
    ) -> None:
        self.acd = acd
        self.agi = agi  # the dialplan's services (FastAGI), asked before a call reaches Stasis
        self.flows: FlowLibrary | None = None  # the calls' flows, when they can be reloaded
        self.settings = settings
        self.start_speech = start_speech
        self.speech: SpeechService | None = None
        self.watchdog: asyncio.Task[None] | None = None
        self.events = events or EventFeed()  # calls, queues, agents: one feed for every view
        # Calls' audio, for speech and listening in.
        self.taps = MediaTaps(settings.ari_app, talk_level=(
            settings.talk_level if settings.listen_on_talk else None))
        self.ari = AriClient(
            settings.ari_base_url, settings.ari_app, settings.ari_user, creds.ari_password,
            handler, backoff_initial=settings.reconnect_initial,
            backoff_max=settings.reconnect_max,
        )
        self.ami = AmiLink(settings.ami_host, settings.ami_port, settings.ami_user,
                           creds.ami_secret, reconnect=settings.reconnect_initial)
        # Engineers' event streams share this one AMI connection.
        self.ami_events = AmiEventFeed()
        self.ami_events.attach(self.ami.manager)
        # The supervisors' wallboard and listening in: only where the ACD runs.
        self.wall: Wall | None = None
        self.monitors: Monitors | None = None
        if acd is not None:
            from app.wall.live import Wall
            from app.wall.monitor import Monitors

            # One short-abandon threshold for the wallboard and the statistics.
            self.wall = Wall(acd.db, acd.rules, self.events, settings.short_abandon_seconds)
            self.monitors = Monitors(acd.db, self.events, settings.ari_app,
                                     lambda: self.ari.rest)

    async def _warm_voice(self) -> None:
        """The voice's workers load in the background, so the first answer does not wait for
        TensorFlow; a voice that cannot start is logged, and calls go on with prompts."""
        from app.tts.neural import VoiceError
        from app.tts.synth import SynthesisError, warm_up

        try:
            await warm_up()
        except (SynthesisError, VoiceError) as exc:
            log.warning("call-time speech unavailable: %s", exc)

    async def start(self) -> None:
        await self.taps.start()
        if self.acd is not None:
            await self.acd.distributor.start()
        if self.wall is not None:
            await self.wall.start()  # today's counts read before any call comes in
        # Calls first: callers left by a crashed process are picked up at once (keys work
        # meanwhile), speech joins each new call once its models are warm.
        self.ari.start()
        self.ami.start()
        await self._warm_voice()
        if self.agi is not None:
            await self.agi.start()
        if self.start_speech is not None:
            self.speech = await self.start_speech()
        if (analytics := self.analytics) is not None:
            try:
                await analytics.start()
            except Exception as exc:  # no model, a bad keyword list: recordings still work
                log.warning("speech analytics of recordings off: %s", exc)
                self.acd.recorder.analytics = None  # type: ignore[union-attr]
        self.watchdog = asyncio.create_task(watch_event_loop(), name="loop-watchdog")
        log.info(
            "Stasis app %r connecting to %s", self.settings.ari_app, self.settings.ari_base_url
        )

    @property
    def analytics(self) -> RecordingAnalytics | None:
        recorder = self.acd.recorder if self.acd is not None else None
        return recorder.analytics if recorder is not None else None

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, details) of the telephony side: ARI and AMI connected, calls, speech."""
        ari_ok, ami_ok = self.ari.connected, self.ami.connected
        return ari_ok and ami_ok, {
            "ari": {"connected": ari_ok, "connections": self.ari.events.connections},
            "ami": {"connected": ami_ok},
            "active_calls": len(self.ari.dispatcher.calls),
            # Off when the model is missing: callers then use their keypad only.
            "speech": {"enabled": self.speech is not None,
                       "recognisers": self.speech.pool.sizes() if self.speech else {},
                       # What listening cost so far: taps opened, 20 ms frames streamed
                       # from the PBX, frames decoded (a silent caller adds to none).
                       "listening": {
                           "taps_opened": self.taps.opened,
                           "frames_streamed": self.taps.server.frames,
                           "frames_decoded": (self.speech.decoded_frames
                                              if self.speech else 0)}},
            # Recordings waiting for speech analytics: supervisors watch it drain.
            "recording_analytics": self.analytics.queue.stats() if self.analytics else None,
            # Dialplan services: requests answered, and how many with defaults (slow or failing).
            "agi": ({"answered": self.agi.answered, "defaulted": self.agi.defaulted}
                    if self.agi is not None else None),
        }

    async def stop(self) -> None:
        """Drain (no new calls; those in progress may finish for `drain_seconds`), then end
        the rest with a message and stop every part in reverse order."""
        left = await self.ari.drain(self.settings.drain_seconds)
        if left:
            log.info("drain time over: ending %d calls", left)
        if self.watchdog is not None:
            self.watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watchdog
        if self.agi is not None:
            await self.agi.stop()
        await self.ari.stop()
        await self.ami.stop()
        await self.taps.stop()
        if self.wall is not None:
            await self.wall.stop()
        if self.acd is not None:
            await self.acd.stop()
            await self.acd.distributor.stop()
            if self.acd.recorder is not None:
                await self.acd.recorder.drain()  # recordings of the calls just ended
        if (analytics := self.analytics) is not None:
            await analytics.stop()
        if self.speech is not None:
            await self.speech.stop()
        log.info("platform stopped")
