"""Speech analytics of a finished call recording, in two tiers.

Tier 1 (`Analyzer.quick`, every call): voice activity per channel (talk, silence, overtalk,
longest silence) and keyword spotting with a recogniser restricted to the keyword grammar.
Tier 2 (`Analyzer.transcribe`, on demand): free transcription per channel with word times.

Both decode only the stretches where the channel's party speaks (found by tier 1's voice
activity), so dead air and the other party's turns cost nothing. Everything here is
synchronous CPU work meant for a worker thread (see app.qa.analytics_queue); recognisers are
made once per thread, warmed, and reused. Storage is the caller's business.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.asr.model import load_model, model_path
from app.asr.recognizer import FREE, grammar_json
from app.asr.vocab import load_vocabulary
from app.qa.activity import (
    FRAME_SECONDS,
    Mask,
    Span,
    mask_of,
    measure,
    spans_of,
    speech_mask,
)
from app.qa.decoding import WARMUP_SECONDS, TimedRecognizer, Utterance, decode_stretches
from app.qa.keywords import (
    DEFAULT_KEYWORDS_FILE,
    Keyword,
    TimedWord,
    find_phrases,
    load_keywords,
    phrases_for,
)
from app.qa.stereo import CHANNELS, StereoCall, read_stereo

KEYWORDS = "keywords"
# Audio kept around each speech stretch handed to the recogniser: word edges are quieter
# than the activity threshold, and Vosk needs a little context to start and end a phrase.
PAD_SECONDS = 0.3


@dataclass(frozen=True)
class ChannelActivity:
    channel: str
    talk_seconds: float
    talk_pct: float  # of the counted call length
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class KeywordHit:
    keyword: str  # the name in the keyword list
    channel: str
    start: float  # seconds into the recording
    end: float
    spoken: str  # the spoken form that matched
    confidence: float


@dataclass(frozen=True)
class QuickAnalysis:
    """Tier 1 result for one recording."""

    duration_seconds: float
    counted_seconds: float  # duration minus paused spans
    caller: ChannelActivity
    agent: ChannelActivity
    silence_seconds: float
    silence_pct: float
    overtalk_seconds: float
    overtalk_pct: float
    longest_silence_seconds: float
    keywords: tuple[KeywordHit, ...]
    cpu_seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TranscriptSegment:
    channel: str
    start: float
    end: float
    text: str
    words: tuple[TimedWord, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Transcription:
    """Tier 2 result: both channels' segments in time order."""

    duration_seconds: float
    segments: tuple[TranscriptSegment, ...]
    cpu_seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, channel: str) -> str:
        return "".join(s.text for s in self.segments if s.channel == channel)


def stretches(mask: Mask, pad: float = PAD_SECONDS) -> list[tuple[float, float]]:
    """Speech spans widened by pad on both sides, merged where they then touch."""
    limit = len(mask) * FRAME_SECONDS
    merged: list[tuple[float, float]] = []
    for span in spans_of(mask):
        start, end = max(0.0, span.start - pad), min(limit, span.end + pad)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class Analyzer:
    """Runs both tiers on recordings with one loaded model and a keyword list. Thread-safe:
    each thread gets its own recognisers."""

    def __init__(self, keywords: Sequence[Keyword] | None = None, *,
                 model_dir: Path | None = None, warmup_seconds: float = WARMUP_SECONDS) -> None:
        path = model_dir or model_path()
        self.model = load_model(path)
        vocab = load_vocabulary(path)
        self.keywords = list(keywords) if keywords is not None else load_keywords(
            DEFAULT_KEYWORDS_FILE)
        self.phrases = phrases_for(self.keywords, vocab)
        self.grammar = grammar_json([p.spoken for p in self.phrases], vocab)
        self.warmup_seconds = warmup_seconds
        self._local = threading.local()

    def recognizer(self, mode: str) -> TimedRecognizer:
        """This thread's warm recogniser for mode (FREE or KEYWORDS), made on first use."""
        recs: dict[str, TimedRecognizer] = self._local.__dict__.setdefault("recs", {})
        if mode not in (FREE, KEYWORDS):
            raise KeyError(f"unknown analytics recogniser {mode!r}; known: {FREE}, {KEYWORDS}")
        if mode not in recs:
            grammar = None if mode == FREE else self.grammar
            recs[mode] = TimedRecognizer(self.model, mode, grammar, self.warmup_seconds)
        return recs[mode]

    def warm(self, *modes: str) -> None:
        """Make this thread's recognisers now rather than on its first recording."""
        for mode in modes or (KEYWORDS,):
            self.recognizer(mode)

    def quick(self, wav: Path, pauses: Sequence[tuple[float, float]] = ()) -> QuickAnalysis:
        """Tier 1. `pauses`: (start, end) seconds where recording was paused; they count
        neither as talk nor as silence."""
        started = time.thread_time()
        call = read_stereo(wav)
        masks = {name: speech_mask(call.channel(name), call.rate) for name in CHANNELS}
        frames = min(len(m) for m in masks.values())
        excluded = mask_of(pauses, frames)
        for name in CHANNELS:
            masks[name] = masks[name][:frames] & ~excluded
        conv = measure(masks["caller"], masks["agent"], excluded)
        hits = [hit for name in CHANNELS for hit in self._spot(call, name, masks[name])]
        activity = {
            name: ChannelActivity(name, talk, conv.pct(talk), tuple(spans_of(masks[name])))
            for name, talk in (("caller", conv.caller_talk_seconds),
                               ("agent", conv.agent_talk_seconds))}
        return QuickAnalysis(
            duration_seconds=round(call.seconds, 2),
            counted_seconds=conv.counted_seconds,
            caller=activity["caller"],
            agent=activity["agent"],
            silence_seconds=conv.silence_seconds,
            silence_pct=conv.pct(conv.silence_seconds),
            overtalk_seconds=conv.overtalk_seconds,
            overtalk_pct=conv.pct(conv.overtalk_seconds),
            longest_silence_seconds=conv.longest_silence_seconds,
            keywords=tuple(sorted(hits, key=lambda h: (h.start, h.channel))),
            cpu_seconds=round(time.thread_time() - started, 3),
        )

    def _spot(self, call: StereoCall, channel: str, mask: Mask) -> list[KeywordHit]:
        pcm = call.channel(channel).astype("<i2").tobytes()
        utterances = decode_stretches(self.recognizer(KEYWORDS), pcm, stretches(mask))
        hits = []
        for utterance in utterances:
            for match in find_phrases(utterance.words, self.phrases):
                words = utterance.words[match.first:match.last + 1]
                hits.append(KeywordHit(
                    keyword=match.phrase.keyword, channel=channel, start=words[0].start,
                    end=words[-1].end, spoken=match.phrase.spoken,
                    confidence=round(min(w.confidence for w in words), 3)))
        return hits

    def transcribe(self, wav: Path) -> Transcription:
        """Tier 2: free transcription of both channels, segments in time order."""
        started = time.thread_time()
        call = read_stereo(wav)
        segments: list[TranscriptSegment] = []
        for name in CHANNELS:
            samples = call.channel(name)
            mask = speech_mask(samples, call.rate)
            utterances = decode_stretches(self.recognizer(FREE),
                                          samples.astype("<i2").tobytes(), stretches(mask))
            segments.extend(_segment(name, u) for u in utterances)
        segments.sort(key=lambda s: (s.start, s.channel))
        return Transcription(round(call.seconds, 2), tuple(segments),
                             round(time.thread_time() - started, 3))


def _segment(channel: str, utterance: Utterance) -> TranscriptSegment:
    return TranscriptSegment(channel, utterance.start, utterance.end, utterance.text,
                             utterance.words)


__all__ = [
    "Analyzer",
    "ChannelActivity",
    "KeywordHit",
    "QuickAnalysis",
    "TranscriptSegment",
    "Transcription",
]
