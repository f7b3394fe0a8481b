"""Live recognition in calls: the caller's audio reaches an AudioSocket, an endpointer finds
the utterance, warm recognisers decode it while it is spoken (off the event loop), and the
call receives SpeechStarted (for barge-in) and SpeechRecognized events in order with the rest.

Audio path: a snoop channel (what the caller says) and an externalMedia channel (AudioSocket
to us) in a mixing bridge. The caller's own channel is left alone, so prompts and keys work
as usual.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app.ari_handlers.call import Call
from app.ari_handlers.models import SpeechRecognized, SpeechStarted
from app.ari_handlers.rest import AriError
from app.asr.audio import AudioError, read_wav
from app.asr.audiosocket import AudioSocketServer
from app.asr.endpoint import FRAME_BYTES, Endpointer
from app.asr.entities import Entity
from app.asr.grammars import ENTITY, INTENT
from app.asr.recognizer import FREE, Recognizer, RecognizerPool, Transcript
from app.asr.understand import entities_of, intent_of
from app.core.clock import today

log = logging.getLogger(__name__)
T = TypeVar("T")

FEED_BYTES = 1600  # 100 ms per hand-off to the decoder thread
ACQUIRE_WAIT = 3.0  # seconds a caller's utterance may wait for a free recogniser
PREROLL_FRAMES = 15  # 300 ms before the detected start, so the first syllable is not cut


@dataclass
class Heard:
    intent: str
    confidence: float
    transcript: str
    entities: list[Entity] = field(default_factory=list)
    audio_seconds: float = 0.0
    latency_ms: float = 0.0  # end of speech -> result


class SpeechService:
    """The recognisers, their worker threads and the AudioSocket server, shared by all calls."""

    def __init__(self, pool: RecognizerPool, app: str, recordings_dir: Path, workers: int = 2,
                 stations: tuple[str, ...] = (), known_trains: frozenset[str] = frozenset()
                 ) -> None:
        self.pool = pool
        self.app = app
        self.recordings_dir = recordings_dir
        self.server = AudioSocketServer()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr")
        self.stations = stations
        self.known_trains = known_trains

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.pool.close()

    async def transcribe_recording(self, name: str) -> str:
        """Free decoding of a recorded message (for the work order's text); "" if unreadable."""
        try:
            audio = await asyncio.to_thread(read_wav, self.recordings_dir / f"{name}.wav")
        except AudioError as exc:
            log.warning("cannot transcribe %s: %s", name, exc)
            return ""
        loop = asyncio.get_running_loop()
        transcript = await loop.run_in_executor(self.executor, self.pool.decode, FREE, audio.pcm)
        return transcript.text

    def listen(self, call: Call, *, intent: bool = True, entities: bool = False,
               expect: str | None = None) -> Listening:
        session = Listening(self, call, intent=intent, entities=entities, expect=expect)
        session.start()
        return session


class Listening:
    """One listening window of one call; close() tears its channels down."""

    def __init__(self, service: SpeechService, call: Call, *, intent: bool, entities: bool,
                 expect: str | None) -> None:
        self.service = service
        self.call = call
        self.modes = [FREE] + ([INTENT] if intent else []) + ([ENTITY] if entities else [])
        self.expect = expect
        self.session = str(uuid.uuid4())
        self.snoop_id: str | None = None
        self.media_id: str | None = None
        self.bridge_id: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.setup: asyncio.Task[asyncio.Queue[bytes | None]] | None = None
        self.decoding: concurrent.futures.Future[Any] | None = None
        self.recognizers: list[Recognizer] = []

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"listen-{self.call.id}")

    async def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.setup is not None and not self.setup.done():
            # Let requests already sent finish, so teardown knows every channel and bridge.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self.setup
        await asyncio.shield(self._teardown())

    async def _setup(self) -> asyncio.Queue[bytes | None]:
        rest, app = self.call.rest, self.service.app
        queue = self.service.server.register(self.session)
        # Claim first, by the names Asterisk gives them (Snoop/<caller>-N, AudioSocket/<host>-
        # <session>): the new channels' events must reach this call, not start new calls.
        dispatcher = self.call.dispatcher
        dispatcher.claim_named(f"Snoop/{self.call.id}-", self.call)
        dispatcher.claim_named(self.session, self.call)
        bridge = await rest.create_bridge("mixing", name=f"listen-{self.call.id}")
        self.bridge_id = bridge.id
        dispatcher.claim(bridge.id, self.call)
        snoop = await rest.snoop(self.call.id, app)
        self.snoop_id = snoop.id
        dispatcher.claim(snoop.id, self.call)
        media = await rest.external_media(app, self.service.server.address, data=self.session)
        self.media_id = media.id
        dispatcher.claim(media.id, self.call)
        await rest.add_channel(bridge.id, snoop.id)
        await rest.add_channel(bridge.id, media.id)
        return queue

    async def _teardown(self) -> None:
        rest = self.call.rest
        for channel_id in (self.media_id, self.snoop_id):
            if channel_id is not None:
                with contextlib.suppress(AriError):
                    await rest.hangup(channel_id)
        if self.bridge_id is not None:
            with contextlib.suppress(AriError):
                await rest.destroy_bridge(self.bridge_id)
            self.bridge_id = None
        self.service.server.unregister(self.session)
        if self.decoding is not None and not self.decoding.done():
            # A decode cancelled with the call still runs on its thread: wait for it before
            # the recognisers are reset and handed to another caller.
            with contextlib.suppress(BaseException):
                await asyncio.wrap_future(self.decoding)
        for rec in self.recognizers:
            self.service.pool.release(rec)  # resets it
        self.recognizers = []

    async def _run(self) -> None:
        self.setup = asyncio.create_task(self._setup())
        try:
            queue = await asyncio.shield(self.setup)
        except AriError as exc:
            log.warning("cannot listen: %s", exc)
            return
        endpointer = Endpointer()
        preroll: deque[bytes] = deque(maxlen=PREROLL_FRAMES)
        pending = bytearray()
        buffer = b""
        while True:
            chunk = await queue.get()
            if chunk is None:
                return  # the stream ended (caller gone)
            buffer += chunk
            while len(buffer) >= FRAME_BYTES:
                frame, buffer = buffer[:FRAME_BYTES], buffer[FRAME_BYTES:]
                change = endpointer.feed(frame)
                if not endpointer.started:
                    preroll.append(frame)
                    continue
                if change == "start":
                    pending += b"".join(preroll)
                    self.call.deliver(SpeechStarted(type="SpeechStarted",
                                                    channel_id=self.call.id))
                    # Recognisers are taken only now: callers who press keys hold none.
                    if not await self._acquire():
                        return
                pending += frame
                if change == "end":
                    ended_at = time.monotonic()
                    heard = await self._decode(self._finish, bytes(pending))
                    heard.latency_ms = round((time.monotonic() - ended_at) * 1000, 1)
                    self.call.deliver(SpeechRecognized(type="SpeechRecognized",
                                                       channel_id=self.call.id, result=heard))
                    return
            if len(pending) >= FEED_BYTES:
                data, pending = bytes(pending), bytearray()
                await self._decode(self._feed, data)

    async def _decode(self, fn: Callable[[bytes], T], pcm: bytes) -> T:
        """Run fn on a decoding thread; the future is kept so teardown can wait for it."""
        future = self.service.executor.submit(fn, pcm)
        self.decoding = future
        return await asyncio.wrap_future(future)

    async def _acquire(self) -> bool:
        # Not on the decoding threads: waiting for a free recogniser (or making one) must not
        # hold up the callers already being decoded.
        try:
            for mode in self.modes:
                self.recognizers.append(
                    await asyncio.to_thread(self.service.pool.acquire, mode, ACQUIRE_WAIT,
                                            False))
        except TimeoutError as exc:
            log.warning("call %s not recognised: %s", self.call.id, exc)
            # Every recogniser is busy: the caller hears "not heard" and can use the keys.
            self.call.deliver(SpeechRecognized(type="SpeechRecognized", channel_id=self.call.id,
                                               result=Heard("none", 0.0, "")))
            return False
        return True

    def _feed(self, pcm: bytes) -> None:
        for rec in self.recognizers:
            rec.accept(pcm)

    def _finish(self, rest_of_pcm: bytes) -> Heard:
        self._feed(rest_of_pcm)
        found: dict[str, Transcript] = {rec.mode: rec.finish() for rec in self.recognizers}
        free = found[FREE]
        heard = Heard("none", 0.0, free.text, audio_seconds=free.audio_seconds)
        if INTENT in found:
            result = intent_of(free, found[INTENT])
            heard.intent, heard.confidence = result.intent, result.confidence
        if ENTITY in found:
            heard.entities = entities_of(free, found[ENTITY], today=today(),
                                         stations=self.service.stations,
                                         known_trains=self.service.known_trains,
                                         expect=self.expect)
        return heard


async def speech_service(app: str, recordings_dir: Path, stations: tuple[str, ...],
                         known_trains: frozenset[str], warm: int = 8, prefill: int = 24,
                         max_per_mode: int = 24) -> SpeechService | None:
    """The live speech service, or None (keys only) when the model is not installed."""
    from app.asr.model import is_installed
    from app.asr.recognizer import pool_for

    if not is_installed():
        log.warning("speech recognition is off: the model is missing (run `hotline asr install`)")
        return None
    # Loading the model and warming recognisers takes seconds of CPU: not on the event loop.
    pool = await asyncio.to_thread(pool_for, stations=stations, warm=warm,
                                   max_per_mode=max_per_mode, keep_spare=3)
    pool.prefill(prefill)  # more capacity, made in the background once calls are answered
    service = SpeechService(pool, app, recordings_dir,
                            stations=stations, known_trains=known_trains)
    await service.start()
    return service
