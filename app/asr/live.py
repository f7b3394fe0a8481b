"""Live recognition in calls: frames of the caller's audio come from an audio source (the
telephony layer's tap), an endpointer finds the utterance, warm recognisers decode it while it
is spoken (off the event loop), and the listener is told when speech starts (for barge-in) and
what was heard. Nothing here knows the PBX.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from app.asr.audio import AudioError, read_wav
from app.asr.endpoint import FRAME_BYTES, Endpointer
from app.asr.entities import Entity
from app.asr.grammars import ENTITY, INTENT
from app.asr.recognizer import FREE, Recognizer, RecognizerPool, Transcript
from app.asr.shapes import SHAPE_MODE, modes_for
from app.asr.understand import entities_of, intent_of
from app.core.clock import today

log = logging.getLogger(__name__)
T = TypeVar("T")

FEED_BYTES = 1600  # 100 ms per hand-off to the decoder thread
ACQUIRE_WAIT = 1.5  # seconds a caller's utterance may wait for a free recogniser
# End of speech -> answer: what was understood, or "not heard" if decoding is behind then
# (under 2 s, with the time the answer takes to reach the call). HOTLINE_ASR_ANSWER_WITHIN.
ANSWER_WITHIN = 1.5
PREROLL_FRAMES = 15  # 300 ms before the detected start, so the first syllable is not cut


class AudioSource(Protocol):
    """20 ms frames of 8 kHz slin; None on the queue when the stream ends."""

    async def open(self) -> asyncio.Queue[bytes | None]: ...

    async def close(self) -> None: ...


class SpeechListener(Protocol):
    """Who hears about the caller's speech (the call, in order with its other events)."""

    id: str

    def speech_started(self) -> None: ...

    def speech_heard(self, result: Any) -> None: ...


@dataclass
class Heard:
    intent: str
    confidence: float
    transcript: str
    entities: list[Entity] = field(default_factory=list)
    audio_seconds: float = 0.0
    latency_ms: float = 0.0  # end of speech -> result


class SpeechService:
    """The recognisers and their worker threads, shared by all calls."""

    def __init__(self, pool: RecognizerPool, recordings_dir: Path, workers: int = 2,
                 stations: tuple[str, ...] = (), known_trains: frozenset[str] = frozenset(),
                 answer_within: float = ANSWER_WITHIN) -> None:
        self.pool = pool
        self.answer_within = answer_within
        self.recordings_dir = recordings_dir
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr")
        self.stations = stations
        self.known_trains = known_trains
        self.decoded_frames = 0  # 20 ms frames handed to recognisers since the start

    async def stop(self) -> None:
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

    def listen(self, source: AudioSource, listener: SpeechListener, *, intent: bool = True,
               entities: bool = False, expect: str | None = None) -> Listening:
        session = Listening(self, source, listener, intent=intent, entities=entities,
                            expect=expect)
        session.start()
        return session


class Listening:
    """One listening window of one call; close() closes its audio source."""

    def __init__(self, service: SpeechService, source: AudioSource, listener: SpeechListener,
                 *, intent: bool, entities: bool, expect: str | None) -> None:
        self.service = service
        self.source = source
        self.listener = listener
        self.modes = [FREE] + ([INTENT] if intent else []) + (
            modes_for(expect, [ENTITY]) if entities else [])
        self.expect = expect
        self.task: asyncio.Task[None] | None = None
        self.setup: asyncio.Task[asyncio.Queue[bytes | None]] | None = None
        self.decoding: concurrent.futures.Future[Any] | None = None
        self.audio: asyncio.Queue[bytes | None] | None = None  # the utterance, to decode
        self.decoder: asyncio.Task[Heard] | None = None
        self.recognizers: list[Recognizer] = []

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"listen-{self.listener.id}")

    async def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.setup is not None and not self.setup.done():
            # Let an opening source finish, so teardown knows everything it made.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self.setup
        elif self.setup is not None and not self.setup.cancelled():
            # Failed after the window's task stopped waiting for it: seen here, so it is not
            # reported later as an exception nobody retrieved (the failure was logged, or the
            # caller had left).
            self.setup.exception()
        await asyncio.shield(self._teardown())

    async def _teardown(self) -> None:
        await self.source.close()
        if self.decoder is not None and not self.decoder.done():
            self.decoder.cancel()  # an answer nobody waits for any more
            with contextlib.suppress(BaseException):
                await self.decoder
        if self.decoding is not None and not self.decoding.done():
            # A decode cancelled with the call still runs on its thread: wait for it before
            # the recognisers are reset and handed to another caller.
            with contextlib.suppress(BaseException):
                await asyncio.wrap_future(self.decoding)
        for rec in self.recognizers:
            self.service.pool.release(rec)  # resets it
        self.recognizers = []

    async def _run(self) -> None:
        """Find the utterance in the caller's frames as they come (cheap, never waits for the
        decoder), hand its audio to the decoding task, and answer within answer_within of
        the end of speech: what was understood, or "not heard" when decoding is behind
        (a burst of callers). Endpointing used to wait for each decoding step, so a
        decoder behind real time also saw the end of speech late, after the caller hung up."""
        self.setup = asyncio.create_task(self.source.open())
        try:
            queue = await asyncio.shield(self.setup)
        except Exception as exc:  # the caller left, or the PBX refused the tap
            log.warning("cannot listen: %s", exc)
            return
        endpointer = Endpointer()
        preroll: deque[bytes] = deque(maxlen=PREROLL_FRAMES)
        buffer = b""
        while True:
            chunk = await queue.get()
            if chunk is None:
                return  # the stream ended (caller gone)
            if buffer or len(chunk) != FRAME_BYTES:
                buffer += chunk
                frames = [buffer[i:i + FRAME_BYTES]
                          for i in range(0, len(buffer) - FRAME_BYTES + 1, FRAME_BYTES)]
                buffer = buffer[len(frames) * FRAME_BYTES:]
            else:
                frames = [chunk]  # the usual case: one whole frame, no copying
            for frame in frames:
                change = endpointer.feed(frame)
                if not endpointer.started:
                    preroll.append(frame)
                    continue
                if change == "start":
                    self.listener.speech_started()
                    self.audio = asyncio.Queue()
                    self.audio.put_nowait(b"".join(preroll))
                    self.decoder = asyncio.create_task(self._decode_utterance(self.audio))
                assert self.audio is not None
                self.audio.put_nowait(frame)
                if change == "end":
                    await self._answer(time.monotonic())
                    return

    async def _answer(self, ended_at: float) -> None:
        assert self.audio is not None and self.decoder is not None
        self.audio.put_nowait(None)
        try:
            heard = await asyncio.wait_for(asyncio.shield(self.decoder),
                                           self.service.answer_within)
        except TimeoutError:
            log.warning("call %s: speech not decoded within %.1f s of its end (decoders "
                        "busy); answered as not heard", self.listener.id,
                        self.service.answer_within)
            heard = Heard("none", 0.0, "")
        heard.latency_ms = round((time.monotonic() - ended_at) * 1000, 1)
        self.listener.speech_heard(heard)

    async def _decode_utterance(self, audio: asyncio.Queue[bytes | None]) -> Heard:
        """Take recognisers, decode the utterance's audio as it comes (whatever has piled up
        since the last step, in one step), and finish at the end of speech."""
        if not await self._acquire():
            return Heard("none", 0.0, "")
        pending = bytearray()
        while True:
            item = await audio.get()
            ended = item is None
            pending += item or b""
            while not ended and not audio.empty():
                more = audio.get_nowait()
                ended = more is None
                pending += more or b""
            if ended:
                return await self._decode(self._finish, bytes(pending))
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
            # Every recogniser is busy: the caller hears "not heard" and can use the keys.
            log.warning("call %s not recognised: %s", self.listener.id, exc)
            return False
        return True

    def _feed(self, pcm: bytes) -> None:
        self.service.decoded_frames += len(pcm) // FRAME_BYTES
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
        number_mode = next((m for m in self.modes if m not in (FREE, INTENT)), None)
        if number_mode is not None:
            heard.entities = entities_of(free, found[number_mode], today=today(),
                                         stations=self.service.stations,
                                         known_trains=self.service.known_trains,
                                         expect=self.expect)
        return heard


async def speech_service(recordings_dir: Path, stations: tuple[str, ...],
                         known_trains: frozenset[str], warm: int = 8, prefill: int = 24,
                         max_per_mode: int = 24, answer_within: float = ANSWER_WITHIN,
                         ) -> SpeechService | None:
    """The live speech service, or None (keys only) when the model is not installed."""
    from app.asr.model import is_installed
    from app.asr.recognizer import pool_for

    if not is_installed():
        log.warning("speech recognition is off: the model is missing (run `hotline asr install`)")
        return None
    # Loading the model and warming recognisers takes seconds of CPU: not on the event loop.
    # Made before the first call: the menu's decoders; number questions' grammars start
    # with one each and grow in the background.
    pool = await asyncio.to_thread(pool_for, stations=stations,
                                   warm={FREE: warm, INTENT: warm, ENTITY: 1},
                                   max_per_mode=max_per_mode, keep_spare=3)
    # More capacity, made in the background once calls are answered. Every caller in the
    # menu needs free and intent decoding; a number question's grammar is needed by fewer.
    pool.prefill(prefill, modes=(FREE, INTENT, ENTITY))
    pool.prefill(max(1, prefill // 3), modes=[m for m in pool.modes if m.startswith(SHAPE_MODE)])
    return SpeechService(pool, recordings_dir, stations=stations, known_trains=known_trains,
                         answer_within=answer_within)
