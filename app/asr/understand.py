"""From 8 kHz audio to intent, confidence, transcript and entities.

Intent: free decoding (unbiased, n-best) and intent-grammar decoding (biased towards cue
phrases, which repairs 员工 → 人工) are both searched for cues. The grammar decoder will force
any speech into its phrases, so its say is scaled by how well it fits compared with free
decoding: off-topic speech fits the grammar far worse (lower lattice score per second).
Entities: free decoding and the number/date grammar vote, but only on values that free
decoding heard at all: forced into numbers, the grammar finds digits in any speech.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.asr.entities import Entity, extract_best
from app.asr.grammars import ENTITY, INTENT
from app.asr.intents import Hypotheses, IntentResult, classify
from app.asr.recognizer import FREE, RecognizerPool, Transcript
from app.asr.shapes import modes_for, read_shape, shape_for

# Grammar fit, in lattice score per second of audio relative to free decoding, at which the
# grammar decoder gets half its say; and how sharply trust falls around it.
FIT_MIDPOINT = -8.0
FIT_SLOPE = 2.5
GRAMMAR_SHARE = 0.5
ENTITY_GRAMMAR_SHARE = 0.5


@dataclass
class Understanding:
    intent: str
    confidence: float
    transcript: str
    entities: list[Entity] = field(default_factory=list)
    transcripts: dict[str, Transcript] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def audio_seconds(self) -> float:
        return max((t.audio_seconds for t in self.transcripts.values()), default=0.0)

    @property
    def decode_seconds(self) -> float:
        return sum(t.decode_seconds for t in self.transcripts.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": self.confidence,
            "transcript": self.transcript,
            "entities": [e.as_dict() for e in self.entities],
        }


def grammar_fit(free: Transcript, biased: Transcript) -> float:
    """0..1: how plausible the grammar-biased reading is next to the free one."""
    if not biased.alternatives:
        return 0.0
    if not free.alternatives:
        return 1.0
    seconds = max(free.audio_seconds, 0.5)
    per_second = (biased.alternatives[0].score - free.alternatives[0].score) / seconds
    return 1.0 / (1.0 + math.exp(-(per_second - FIT_MIDPOINT) / FIT_SLOPE))


def intent_sources(free: Transcript, biased: Transcript | None) -> list[tuple[Hypotheses,
                                                                             float]]:
    if biased is None:
        return [(free.weighted(), 1.0)]
    share = GRAMMAR_SHARE * grammar_fit(free, biased)
    return [(free.weighted(), 1.0 - share), (biased.weighted(), share)]


def intent_of(free: Transcript, biased: Transcript | None) -> IntentResult:
    return classify(intent_sources(free, biased))


def entities_of(free: Transcript, biased: Transcript | None, *, today: date | None = None,
                stations: Sequence[str] = (), known_trains: Collection[str] = (),
                expect: str | None = None) -> list[Entity]:
    """biased: the entity grammar's transcript, or the shape grammar's when expect has one."""
    shape = shape_for(expect)
    if shape is not None:
        reading = read_shape(shape, free, biased)
        return [] if reading.value is None else [Entity(shape.kind, reading.value,
                                                        sure=reading.sure)]
    hyps = [(t, w * (1.0 - ENTITY_GRAMMAR_SHARE if biased else 1.0)) for t, w in free.weighted()]
    if biased is not None:
        hyps += [(t, w * ENTITY_GRAMMAR_SHARE) for t, w in biased.weighted()]
    anchors = [a.text for a in free.alternatives] if biased is not None else None
    return extract_best(hyps, today=today, stations=stations, known_trains=known_trains,
                        expect=expect, anchors=anchors)


class Understander:
    """Runs the decoders a question needs on one utterance. Synchronous and CPU-bound: call
    it from a worker thread in the live path."""

    def __init__(self, pool: RecognizerPool, *, stations: Sequence[str] = (),
                 known_trains: Collection[str] = ()) -> None:
        self.pool = pool
        self.stations = tuple(stations)
        self.known_trains = frozenset(known_trains)

    def transcribe(self, pcm: bytes, modes: Sequence[str]) -> dict[str, Transcript]:
        return {mode: self.pool.decode(mode, pcm) for mode in modes}

    def understand(self, pcm: bytes, *, want_intent: bool = True, want_entities: bool = True,
                   today: date | None = None, expect: str | None = None) -> Understanding:
        """expect: the entity kind the caller was just asked for (order_no, train_no, ...)."""
        modes = [FREE]
        if want_intent:
            modes.append(INTENT)
        if want_entities:
            modes.extend(modes_for(expect, [ENTITY]))
        found = self.transcribe(pcm, modes)
        free = found[FREE]
        result = Understanding("none", 0.0, free.text, transcripts=found)
        if want_intent:
            intent = intent_of(free, found[INTENT])
            result.intent, result.confidence, result.scores = (intent.intent, intent.confidence,
                                                               intent.scores)
        if want_entities:
            result.entities = entities_of(free, found[modes[-1]], today=today,
                                          stations=self.stations,
                                          known_trains=self.known_trains, expect=expect)
        return result
