"""Intent of a caller's utterance from recogniser hypotheses, matched by sound.

Each hypothesis (n-best of free decoding, n-best of grammar-biased decoding) is turned into
toneless pinyin and searched for the cue phrases of lexicon.py with sound-alike tolerance.
Evidence is averaged over hypotheses by their weight, so a cue that only a weak alternative
contains counts for little, and agreement between the two decoders counts for a lot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from app.asr.lexicon import CUES, INTENTS, NONE
from app.asr.numbers import find_runs
from app.asr.phonetic import han_only, similarity, syllables

GAP = 6  # syllables allowed between the parts of a "A…B" cue
NONE_THRESHOLD = 0.45  # below this much evidence the utterance is off-topic
# One strong cue in every hypothesis gives about 1.2-1.5 evidence; confidence saturates there.
SATURATION = 1.6


@dataclass(frozen=True)
class Cue:
    intent: str
    text: str
    weight: float
    parts: tuple[tuple[str, ...], ...]
    hanzi: tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    intent: str
    cue: str
    quality: float


@dataclass
class IntentResult:
    intent: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)


def _compile() -> list[Cue]:
    cues = []
    for intent, table in CUES.items():
        for text, weight in table.items():
            pieces = tuple(p for p in text.split("…") if p)
            cues.append(Cue(intent, text, weight, tuple(tuple(syllables(p)) for p in pieces),
                            pieces))
    return cues


CUE_LIST = _compile()


# Function words carry little of a cue's meaning; a cue should not match on them alone
# (出票了没有 is not 到了没有).
FUNCTION_SYLLABLES = frozenset(
    syllables("了的吗呢吧啊么嘛没有一下个是我你他要想在这那就都也还和跟把给"))
LIGHT = 0.35


def part_quality(part: Sequence[str], window: Sequence[str]) -> float:
    """How well a window of syllables sounds like a cue part of two or more syllables."""
    sims = [similarity(a, b) for a, b in zip(part, window, strict=True)]
    weights = [LIGHT if p in FUNCTION_SYLLABLES else 1.0 for p in part]
    total = sum(weights)
    mean = sum(w * s for w, s in zip(weights, sims, strict=True)) / total
    if len(sims) == 2:
        # One of the two must be heard exactly: 期几 is not 机器 though each pair is close.
        ok = min(sims) >= 0.8 and max(sims) == 1.0 and mean >= 0.85
    else:
        # Longer cues survive one badly heard syllable if most of the rest is exact and, unless
        # it is a function word, it still sounds somewhat alike (转员工 for 转人工).
        exact = sum(w for w, s in zip(weights, sims, strict=True) if s == 1.0)
        bad = [(w, s) for w, s in zip(weights, sims, strict=True) if s < 0.8]
        ok = (len(bad) <= 1 and all(s >= 0.4 or w < 1.0 for w, s in bad)
              and exact * 2 >= total and mean >= 0.75)
    return mean * mean if ok else 0.0


Match = tuple[float, frozenset[int]]  # quality, syllable positions covered


def _part_matches(part: Sequence[str], hanzi: str, syls: Sequence[str], text: str, lo: int,
                  hi: int) -> list[tuple[float, int, int]]:
    found = []
    n = len(part)
    for start in range(lo, min(hi, len(syls) - n) + 1):
        if text.startswith(hanzi, start):
            found.append((1.0, start, start + n))
        elif n > 1:
            # A single syllable has too many sound-alikes (报/包): only its character counts.
            q = part_quality(part, syls[start:start + n])
            if q > 0:
                found.append((q, start, start + n))
    return found


def cue_match(cue: Cue, syls: Sequence[str], text: str) -> Match | None:
    """Best match of a cue, each part within GAP syllables after the previous one."""
    frontier: list[tuple[float, int, frozenset[int]]] = [(1.0, 0, frozenset())]
    for i, (part, hanzi) in enumerate(zip(cue.parts, cue.hanzi, strict=True)):
        nxt: list[tuple[float, int, frozenset[int]]] = []
        for q, end, covered in frontier:
            hi = len(syls) if i == 0 else end + GAP
            for q2, s2, e2 in _part_matches(part, hanzi, syls, text, end, hi):
                nxt.append((q * q2, e2, covered | frozenset(range(s2, e2))))
        if not nxt:
            return None
        frontier = sorted(nxt, key=lambda m: -m[0])[:4]
    return frontier[0][0], frontier[0][2]


def _mask_numbers(text: str) -> tuple[str, list[str]]:
    """Spoken numbers are entities, not intent words (四五 must not pass for 失物): blank them
    out, keeping positions, so no cue can match inside them."""
    syls = syllables(text)
    for run in find_runs(text):
        if run.end - run.start >= 2:
            text = text[:run.start] + "#" * (run.end - run.start) + text[run.end:]
            syls[run.start:run.end] = ["#"] * (run.end - run.start)
    return text, syls


@lru_cache(maxsize=4096)
def text_evidence(text: str) -> tuple[dict[str, float], tuple[Evidence, ...]]:
    """Evidence per intent in one hypothesis: the best cue plus a share of further cues."""
    text, syls = _mask_numbers(han_only(text))
    hits: list[tuple[float, float, Cue, frozenset[int]]] = []
    for cue in CUE_LIST if syls else []:
        found = cue_match(cue, syls, text)
        if found is not None:
            quality, covered = found
            hits.append((quality * quality * len(covered), quality, cue, covered))
    # Where cues of different intents claim the same syllables, the better-supported reading
    # wins (改签到 is not also 捡到; 重点旅客 is not also 正点).
    hits.sort(key=lambda h: (-h[0], -h[2].weight))
    kept: list[tuple[float, float, Cue, frozenset[int]]] = []
    for hit in hits:
        if not any(k[2].intent != hit[2].intent and k[3] & hit[3] for k in kept):
            kept.append(hit)
    by_intent: dict[str, list[tuple[float, Evidence]]] = {}
    for _, quality, cue, _ in kept:
        by_intent.setdefault(cue.intent, []).append(
            (cue.weight * quality, Evidence(cue.intent, cue.text, round(quality, 3))))
    scores: dict[str, float] = {}
    evidence: list[Evidence] = []
    for intent, found_hits in by_intent.items():
        found_hits.sort(key=lambda h: -h[0])
        values = [v for v, _ in found_hits]
        # Overlapping cues (退票 and 退) say the same thing; extra ones add only a little.
        scores[intent] = values[0] + 0.25 * sum(values[1:3])
        evidence.extend(e for _, e in found_hits[:3])
    return scores, tuple(evidence)


Hypotheses = Sequence[tuple[str, float]]


def combine(sources: Iterable[tuple[Hypotheses, float]]) -> tuple[dict[str, float],
                                                                   list[Evidence]]:
    """Weighted evidence over sources (each an n-best list with weights summing to 1)."""
    total: dict[str, float] = dict.fromkeys(INTENTS, 0.0)
    seen: dict[tuple[str, str], Evidence] = {}
    for hyps, source_weight in sources:
        for text, weight in hyps:
            scores, evidence = text_evidence(text)
            for intent, value in scores.items():
                total[intent] += source_weight * weight * value
            for e in evidence:
                key = (e.intent, e.cue)
                if key not in seen or seen[key].quality < e.quality:
                    seen[key] = e
    return total, sorted(seen.values(), key=lambda e: (e.intent, -e.quality))


def decide(scores: Mapping[str, float], evidence: list[Evidence] | None = None) -> IntentResult:
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    rounded = {k: round(v, 3) for k, v in ranked}
    if top < NONE_THRESHOLD:
        # Off-topic: sure when nothing matched, unsure when some cue nearly counted.
        confidence = 0.9 * (1.0 - top / NONE_THRESHOLD) + 0.05
        return IntentResult(NONE, round(confidence, 3), rounded, evidence or [])
    strength = 1.0 - math.exp(-SATURATION * top)
    margin = (top - second) / top
    confidence = strength * (0.35 + 0.65 * margin)
    kept = [e for e in evidence or [] if e.intent == best]
    return IntentResult(best, round(confidence, 3), rounded, kept)


def classify(sources: Iterable[tuple[Hypotheses, float]]) -> IntentResult:
    scores, evidence = combine(sources)
    return decide(scores, evidence)


def classify_text(text: str) -> IntentResult:
    """Intent of a single transcript (a typed or already recognised sentence)."""
    return classify([([(text, 1.0)], 1.0)])
