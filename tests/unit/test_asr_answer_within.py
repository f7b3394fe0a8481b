"""A caller's speech is answered within the configured time of its end: what was understood,
or "not heard" when decoding is behind (here: a decoder slower than that)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from app.asr.audio import read_wav
from app.asr.live import SpeechService
from app.asr.recognizer import Alternative, Transcript
from tests.data import SPEECH
from tests.unit.test_asr_burst import Listener, SpeakingCaller

FINISH_SECONDS = 1.0  # how long the slow recogniser takes to finish an utterance


class SlowRecognizer:
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def accept(self, pcm: bytes) -> None:
        pass

    def finish(self) -> Transcript:
        time.sleep(FINISH_SECONDS)
        return Transcript(self.mode, (Alternative("我要投诉", 0.0),), audio_seconds=1.0)


class SlowPool:
    def acquire(self, mode: str, wait: float, make: bool) -> SlowRecognizer:
        return SlowRecognizer(mode)

    def release(self, rec: SlowRecognizer) -> None:
        pass

    def close(self) -> None:
        pass


async def heard_with(answer_within: float, tmp_path: Path) -> list[str]:
    service = SpeechService(SlowPool(), tmp_path, answer_within=answer_within)  # type: ignore[arg-type]
    pcm = read_wav(SPEECH / "pcm8k/032.wav").pcm
    listener = Listener(0)
    session = service.listen(SpeakingCaller(pcm), listener)
    await asyncio.sleep(0.2 + len(pcm) / 16000 + 3.0)
    await session.close()
    await service.stop()
    return [h.transcript for h in listener.heard]


async def test_a_decoder_slower_than_the_deadline_is_answered_as_not_heard(
        tmp_path: Path) -> None:
    assert await heard_with(FINISH_SECONDS / 4, tmp_path) == [""]


async def test_a_longer_deadline_waits_for_the_decoder(tmp_path: Path) -> None:
    # Two recognisers (free text and intent) finish one after the other.
    assert await heard_with(FINISH_SECONDS * 5, tmp_path) == ["我要投诉"]
