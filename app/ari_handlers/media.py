"""Media taps: a call's audio as a stream for the platform (speech recognition today; the same
tap serves supervisors' listening and per-direction recording).

A tap is a snoop channel on the call (spy `in`: what the caller says) and an externalMedia
channel (AudioSocket, slin 8 kHz, to our TCP server) in a mixing bridge. The call's own channel
is left alone, so prompts and keys work as usual.

A tap streams 50 frames a second each way for as long as it is open, which is most of what a
caller in the menu costs. With talk detection on (HOTLINE_LISTEN_ON_TALK) the menu's tap is
gated: the PBX's talk detector on the caller's channel opens it when the caller starts
talking, so a silent caller costs only that detector (the tap then misses the first 50-100 ms
of the speech).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING

from app.ari_handlers.audiosocket import AudioSocketServer
from app.ari_handlers.bridge import Bridge
from app.ari_handlers.models import Channel
from app.ari_handlers.rest import AriError

if TYPE_CHECKING:
    from app.ari_handlers.call import Call

log = logging.getLogger(__name__)

PREPARE_WAIT = 3.0  # seconds for the PBX to turn a call's talk detector on
ADD_WAIT = 2.0  # seconds a new tap channel may take to enter the Stasis app


class MediaTaps:
    """Makes taps for calls of one Stasis app, over one AudioSocket server."""

    def __init__(self, app: str, server: AudioSocketServer | None = None,
                 talk_level: int | None = None) -> None:
        self.app = app
        self.server = server or AudioSocketServer()
        self.talk_level = talk_level  # None: the caller's tap is open the whole window
        self.opened = 0  # taps connected since the start (the cost of listening)

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    async def prepare(self, call: Call) -> None:
        """Turn the PBX's talk detector on for a new call, before its first prompt: the PBX
        runs a channel's requests in turn, so a request made while a prompt plays waits for
        the prompt's end. Without the detector the call's taps open ungated."""
        if self.talk_level is None:
            return
        try:
            await asyncio.wait_for(call.detect_talk(self.talk_level), PREPARE_WAIT)
        except (AriError, TimeoutError) as exc:
            log.warning("call %s: no talk detection, listening ungated: %s", call.id,
                        exc or "no answer")

    def caller_audio(self, call: Call, gated: bool = True) -> AudioTap | TalkGatedTap:
        """What the caller says, for one listening window; `gated`: open the tap only once
        the caller talks (when talk detection is on)."""
        tap = AudioTap(call, self.server, self.app, spy="in", taps=self)
        if self.talk_level is None or not gated:
            return tap
        return TalkGatedTap(tap, self.talk_level)


class AudioTap:
    """One tap on one call; open() gives the frames (None when the stream ends), close() tears
    every channel and the bridge down. close() is safe at any point, also mid-open."""

    def __init__(self, call: Call, server: AudioSocketServer, app: str, spy: str = "in",
                 taps: MediaTaps | None = None) -> None:
        self.call = call
        self.taps = taps
        self.server = server
        self.app = app
        self.spy = spy
        self.session = str(uuid.uuid4())
        self.snoop_id: str | None = None
        self.media_id: str | None = None
        self.bridge: Bridge | None = None
        self.registered = False
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def open(self) -> asyncio.Queue[bytes | None]:
        queue = self.listen()
        await self.connect()
        return queue

    def listen(self) -> asyncio.Queue[bytes | None]:
        """The queue the tap's frames will arrive on (None when the stream ends)."""
        if not self.registered:
            self.queue = self.server.register(self.session)
            self.registered = True
        return self.queue

    async def connect(self) -> None:
        """Make the channels and the bridge that stream the call's audio to the queue."""
        call, rest = self.call, self.call.rest
        # Claim first, by the names Asterisk gives them (Snoop/<caller>-N, AudioSocket/<host>-
        # <session>): the new channels' events must reach this call, not start new calls.
        # Not by ids of ours: ARI's snoopId/channelId make Asterisk look the id up while it
        # holds its channel store lock, which deadlocks under load.
        call.dispatcher.claim_named(f"Snoop/{call.id}-", call)
        call.dispatcher.claim_named(self.session, call)
        # Made side by side (a tap opened as the caller starts talking is wanted at once);
        # whatever was made is kept for close(), also when another part failed.
        bridge, snoop, media = await asyncio.gather(
            Bridge.create(call, "mixing", name=f"tap-{call.id}"),
            rest.snoop(call.id, self.app, spy=self.spy),
            rest.external_media(self.app, self.server.address, data=self.session),
            return_exceptions=True)
        if isinstance(bridge, Bridge):
            self.bridge = bridge
        if isinstance(snoop, Channel):
            self.snoop_id = snoop.id
            call.dispatcher.claim(snoop.id, call)
        if isinstance(media, Channel):
            self.media_id = media.id
            call.dispatcher.claim(media.id, call)
        for part in (bridge, snoop, media):
            if isinstance(part, BaseException):
                raise part
        assert self.bridge is not None
        await self._add(f"{self.snoop_id},{self.media_id}")
        if self.taps is not None:
            self.taps.opened += 1

    async def _add(self, channels: str) -> None:
        """Both new channels into the bridge. A channel's creation is answered before it has
        entered our Stasis app, and until then the PBX refuses to bridge it (422): asked
        again shortly, for up to ADD_WAIT seconds."""
        assert self.bridge is not None
        deadline = asyncio.get_running_loop().time() + ADD_WAIT
        while True:
            try:
                await self.call.rest.add_channel(self.bridge.id, channels)
                return
            except AriError as exc:
                if exc.status != 422 or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        rest = self.call.rest
        for channel_id in (self.media_id, self.snoop_id):
            if channel_id is not None:
                with contextlib.suppress(AriError):
                    await rest.hangup(channel_id)
        self.media_id = self.snoop_id = None
        if self.bridge is not None:
            await self.bridge.destroy()
            self.bridge = None
        if self.registered:
            self.server.unregister(self.session)
            self.registered = False


class TalkGatedTap:
    """A caller's tap for one listening window, connected only once the PBX's talk detector
    hears the caller (at once if it already does). Until then the queue stays empty and the
    PBX streams nothing. A tap that cannot be connected ends the queue (None)."""

    def __init__(self, tap: AudioTap, level: int) -> None:
        self.tap = tap
        self.call = tap.call
        self.level = level
        self.connecting: asyncio.Task[None] | None = None
        self.closed = False

    async def open(self) -> asyncio.Queue[bytes | None]:
        queue = self.tap.listen()
        if not self.call.talk_detection:  # MediaTaps.prepare could not turn it on
            await self.tap.connect()
            return queue
        self.call.talk_watchers.append(self._heard)
        if self.call.talking:
            self._heard(True)
        return queue

    def _heard(self, talking: bool) -> None:
        if talking and self.connecting is None and not self.closed:
            self.connecting = asyncio.create_task(self._connect(),
                                                  name=f"tap-{self.call.id}")

    async def _connect(self) -> None:
        heard_at = time.monotonic()
        try:
            await self.tap.connect()
            # What the caller said in this time is not streamed: the tap is not there yet.
            self.call.trace.step("tap_opened",
                                 after_ms=round((time.monotonic() - heard_at) * 1000))
        except Exception as exc:  # the caller left, the PBX refused the tap, a stop
            log.warning("call %s: cannot open the audio tap: %s", self.call.id, exc)
            self.tap.queue.put_nowait(None)

    async def close(self) -> None:
        self.closed = True
        with contextlib.suppress(ValueError):
            self.call.talk_watchers.remove(self._heard)
        if self.connecting is not None and not self.connecting.done():
            # Let it finish, so close() knows every channel it made.
            with contextlib.suppress(BaseException):
                await self.connecting
        await self.tap.close()
