"""Decoding stretches of one channel into words with their times in the call.

Built on app.asr's Recognizer (same model, same 8 kHz setup, same warm-up) with word times
switched on. Vosk keeps counting time across resets, so times are taken relative to the
audio this recogniser has been fed and shifted to where the stretch lies in the call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.asr.audio import RATE, speechlike
from app.asr.recognizer import CHUNK, UNK, Recognizer
from app.qa.keywords import TimedWord

WARMUP_SECONDS = 2.0


@dataclass(frozen=True)
class Utterance:
    """What Vosk decoded between two of its end-points, words timed in call seconds."""

    words: tuple[TimedWord, ...]

    @property
    def text(self) -> str:
        return "".join(w.word for w in self.words)

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end


class TimedRecognizer(Recognizer):
    """A Recognizer (free, or restricted to a grammar) that reports each word's time."""

    def __init__(self, model: Any, mode: str, grammar: str | None = None,
                 warmup_seconds: float = WARMUP_SECONDS) -> None:
        super().__init__(model, mode, grammar, max_alternatives=0)
        self._rec.SetWords(True)
        self._fed = 0  # samples fed since creation: Vosk's time base
        if warmup_seconds > 0:
            # A fresh recogniser expands its graph during its first utterances; pay that now.
            self.decode_stretch(speechlike(warmup_seconds), 0.0)

    def _words(self, result: str, base: float, offset: float) -> list[TimedWord]:
        data: dict[str, Any] = json.loads(result)
        return [TimedWord(str(w["word"]), round(float(w["start"]) - base + offset, 3),
                          round(float(w["end"]) - base + offset, 3), float(w.get("conf", 1.0)))
                for w in data.get("result", []) if w.get("word") and w["word"] != UNK]

    def decode_stretch(self, pcm: bytes, offset: float) -> list[Utterance]:
        """Decode s16le 8 kHz audio that starts `offset` seconds into the call."""
        base = self._fed / RATE
        found: list[list[TimedWord]] = []
        for i in range(0, len(pcm), CHUNK):
            if self._rec.AcceptWaveform(self._front.process(pcm[i:i + CHUNK])):
                found.append(self._words(self._rec.Result(), base, offset))
        found.append(self._words(self._rec.FinalResult(), base, offset))
        self._fed += len(pcm) // 2
        self._rec.Reset()
        return [Utterance(tuple(words)) for words in found if words]


def decode_stretches(rec: TimedRecognizer, pcm: bytes,
                     stretches: Iterable[tuple[float, float]]) -> list[Utterance]:
    """Decode only the given (start, end) stretches of a channel, in call time."""
    found: list[Utterance] = []
    for start, end in stretches:
        a = max(0, int(start * RATE)) * 2
        b = min(len(pcm), int(end * RATE) * 2)
        if b > a:
            found.extend(rec.decode_stretch(pcm[a:b], a / 2 / RATE))
    return found
