"""Media taps: a call's audio as a stream for the platform (speech recognition today; the same
tap serves supervisors' listening and per-direction recording).

A tap is a snoop channel on the call (spy `in`: what the caller says) and an externalMedia
channel (AudioSocket, slin 8 kHz, to our TCP server) in a mixing bridge. The call's own channel
is left alone, so prompts and keys work as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING

from app.ari_handlers.audiosocket import AudioSocketServer
from app.ari_handlers.bridge import Bridge
from app.ari_handlers.rest import AriError

if TYPE_CHECKING:
    from app.ari_handlers.call import Call


class MediaTaps:
    """Makes taps for calls of one Stasis app, over one AudioSocket server."""

    def __init__(self, app: str, server: AudioSocketServer | None = None) -> None:
        self.app = app
        self.server = server or AudioSocketServer()

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def caller_audio(self, call: Call) -> AudioTap:
        return AudioTap(call, self.server, self.app, spy="in")


class AudioTap:
    """One tap on one call; open() gives the frames (None when the stream ends), close() tears
    every channel and the bridge down. close() is safe at any point, also mid-open."""

    def __init__(self, call: Call, server: AudioSocketServer, app: str, spy: str = "in") -> None:
        self.call = call
        self.server = server
        self.app = app
        self.spy = spy
        self.session = str(uuid.uuid4())
        self.snoop_id: str | None = None
        self.media_id: str | None = None
        self.bridge: Bridge | None = None
        self.registered = False

    async def open(self) -> asyncio.Queue[bytes | None]:
        call, rest = self.call, self.call.rest
        queue = self.server.register(self.session)
        self.registered = True
        # Claim first, by the names Asterisk gives them (Snoop/<caller>-N, AudioSocket/<host>-
        # <session>): the new channels' events must reach this call, not start new calls.
        # Not by ids of ours: ARI's snoopId/channelId make Asterisk look the id up while it
        # holds its channel store lock, which deadlocks under load.
        call.dispatcher.claim_named(f"Snoop/{call.id}-", call)
        call.dispatcher.claim_named(self.session, call)
        self.bridge = await Bridge.create(call, "mixing", name=f"tap-{call.id}")
        snoop = await rest.snoop(call.id, self.app, spy=self.spy)
        self.snoop_id = snoop.id
        call.dispatcher.claim(snoop.id, call)
        media = await rest.external_media(self.app, self.server.address, data=self.session)
        self.media_id = media.id
        call.dispatcher.claim(media.id, call)
        await self.bridge.add(snoop.id)
        await self.bridge.add(media.id)
        return queue

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
