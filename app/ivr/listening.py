"""The menu's ears: a tap on the caller's audio (telephony) fed to the recognisers (speech)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.ari_handlers.call import Call
from app.ari_handlers.media import MediaTaps

if TYPE_CHECKING:
    from app.asr.live import Listening, SpeechService


class CallerSpeech:
    def __init__(self, speech: SpeechService, taps: MediaTaps) -> None:
        self.speech = speech
        self.taps = taps

    async def prepare(self, call: Call) -> None:
        """Before the call's first prompt: what listening needs on the PBX side."""
        await self.taps.prepare(call)

    def listen(self, call: Call, *, intent: bool = True, entities: bool = False,
               expect: str | None = None) -> Listening:
        # A number's first digit decides it: its window's tap is open from the start, not
        # only once the caller talks (a gated tap misses the first 50-100 ms of speech).
        tap = self.taps.caller_audio(call, gated=expect is None)
        return self.speech.listen(tap, call, intent=intent,
                                  entities=entities, expect=expect)

    async def transcribe_recording(self, name: str) -> str:
        return await self.speech.transcribe_recording(name)
