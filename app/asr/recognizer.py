"""Vosk recognisers for 8 kHz telephone audio, free or grammar-biased, and a warm pool of them.

Decoding here is synchronous, CPU-bound work; callers on the event loop run it in a thread
(vosk's C calls release the GIL), one recogniser per thread at a time.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.asr.audio import RATE, speechlike
from app.asr.frontend import MODEL_RATE, Upsampler
from app.asr.vocab import Vocabulary

log = logging.getLogger(__name__)

FREE = "free"
UNK = "[unk]"
CHUNK = 3200  # 200 ms of s16le at 8 kHz, the step Vosk decodes in anyway
ALTERNATIVES = 5  # n-best kept per utterance, unless a pool says otherwise for a mode


@dataclass(frozen=True)
class Alternative:
    text: str  # Chinese without spaces; [unk] removed
    score: float  # Vosk's lattice score: only differences between alternatives mean anything


@dataclass(frozen=True)
class Transcript:
    mode: str
    alternatives: tuple[Alternative, ...]
    audio_seconds: float = 0.0
    decode_seconds: float = 0.0

    @property
    def text(self) -> str:
        return self.alternatives[0].text if self.alternatives else ""

    def weighted(self, temperature: float = 2.0) -> list[tuple[str, float]]:
        """Alternatives with weights summing to 1 (a softmax over scores)."""
        if not self.alternatives:
            return []
        top = self.alternatives[0].score
        raw = [math.exp((a.score - top) / temperature) for a in self.alternatives]
        total = sum(raw)
        return [(a.text, r / total) for a, r in zip(self.alternatives, raw, strict=True)]


def grammar_json(phrases: Sequence[str], vocab: Vocabulary) -> str:
    """The grammar as Vosk wants it: phrases split into vocabulary words, plus [unk].

    Vosk drops unknown words one by one, which would silently turn a phrase into something
    else, so a phrase that cannot be fully split is left out (and logged) instead."""
    seen: dict[str, None] = {}
    for phrase in phrases:
        words = vocab.segment(phrase)
        if words is None:
            log.warning("grammar phrase %r has words outside the model vocabulary; skipped",
                        phrase)
            continue
        seen[" ".join(words)] = None
    return json.dumps([*seen, UNK], ensure_ascii=False)


def _clean(text: str) -> str:
    return "".join(w for w in text.split() if w != UNK)


def _parse(result: str) -> list[Alternative]:
    data: dict[str, Any] = json.loads(result)
    if "alternatives" in data:
        alts = [Alternative(_clean(a.get("text", "")), float(a.get("confidence", 0.0)))
                for a in data["alternatives"]]
    else:
        alts = [Alternative(_clean(data.get("text", "")), 0.0)]
    return [a for a in alts if a.text]


def _join(segments: list[list[Alternative]], limit: int) -> tuple[Alternative, ...]:
    """Alternatives of an utterance that Vosk split at pauses: the k-th of each segment."""
    segments = [s for s in segments if s]
    if not segments:
        return ()
    if len(segments) == 1:
        return tuple(segments[0][:limit])
    width = min(limit, max(len(s) for s in segments))
    joined: dict[str, Alternative] = {}
    for k in range(width):
        parts = [s[min(k, len(s) - 1)] for s in segments]
        text = "".join(p.text for p in parts)
        if text not in joined:
            joined[text] = Alternative(text, sum(p.score for p in parts))
    return tuple(sorted(joined.values(), key=lambda a: -a.score))


class Recognizer:
    """One Vosk KaldiRecognizer at 8 kHz, free (grammar None) or biased to a phrase grammar."""

    def __init__(self, model: Any, mode: str = FREE, grammar: str | None = None,
                 max_alternatives: int = ALTERNATIVES) -> None:
        import vosk  # type: ignore[import-untyped]

        self.mode = mode
        self.max_alternatives = max_alternatives
        # Vosk gets 16 kHz audio made here (frontend.py), the same on every run.
        if grammar is None:
            self._rec = vosk.KaldiRecognizer(model, MODEL_RATE)
        else:
            self._rec = vosk.KaldiRecognizer(model, MODEL_RATE, grammar)
        self._front = Upsampler()
        self._rec.SetMaxAlternatives(max_alternatives)
        self._segments: list[list[Alternative]] = []
        self._unfed = bytearray()  # audio short of a whole CHUNK, fed with the next audio
        self._open = False  # Vosk holds audio of an unfinished utterance
        self._samples = 0
        self._busy = 0.0

    def accept(self, pcm: bytes) -> bool:
        """Feed s16le 8 kHz audio; True when Vosk saw the end of a phrase (a pause).

        Vosk is always handed whole CHUNKs counted from the start of the utterance (the rest
        waits for more audio or finish()): where Vosk looks for pauses and updates its
        silence weights depends on how the audio is cut, so cutting it by arrival (100 ms
        hand-offs, late frames under load) would make the same audio decode differently."""
        started = time.perf_counter()
        ended = False
        self._unfed += pcm
        whole = len(self._unfed) - len(self._unfed) % CHUNK
        for i in range(0, whole, CHUNK):
            ended = self._accept_chunk(self._unfed[i:i + CHUNK]) or ended
        del self._unfed[:whole]
        self._samples += len(pcm) // 2
        self._busy += time.perf_counter() - started
        return ended

    def _accept_chunk(self, chunk: bytes | bytearray) -> bool:
        self._open = True
        if self._rec.AcceptWaveform(self._front.process(bytes(chunk))):
            self._segments.append(_parse(self._rec.Result()))
            return True
        return False

    def partial(self) -> str:
        data: dict[str, Any] = json.loads(self._rec.PartialResult())
        return _clean(str(data.get("partial", "")))

    def finish(self) -> Transcript:
        """The transcript of everything fed since the last reset; then resets."""
        started = time.perf_counter()
        if self._open or self._unfed:
            self._accept_chunk(self._unfed + self._front.flush())
            self._unfed.clear()
        self._segments.append(_parse(self._rec.FinalResult()))
        self._open = False
        self._busy += time.perf_counter() - started
        transcript = Transcript(self.mode, _join(self._segments, self.max_alternatives),
                                self._samples / RATE, self._busy)
        self.reset()
        return transcript

    def decode(self, pcm: bytes) -> Transcript:
        self.accept(pcm)
        return self.finish()

    def reset(self) -> None:
        """Forget everything fed since the last finish(). Vosk's Reset() keeps the feature
        pipeline (and its speaker adaptation) of an unfinished utterance for the next one,
        so an utterance abandoned mid-way (the caller hung up) would colour the next caller's
        result; FinalResult() is what makes Vosk start the next utterance from scratch."""
        if self._open:
            self._rec.FinalResult()
            self._open = False
        self._unfed.clear()
        self._front.reset()
        self._segments = []
        self._samples = 0
        self._busy = 0.0


@dataclass
class _Slot:
    grammar: str | None
    idle: list[Recognizer] = field(default_factory=list)
    total: int = 0


class RecognizerPool:
    """Warm recognisers per mode. A fresh recogniser expands its decoding graph lazily during
    its first utterances (over a second of CPU for free decoding), so recognisers are made and
    warmed ahead of time and reused, reset between utterances, for the life of the process.

    acquire() hands out an idle recogniser, creates one while the mode is under max_per_mode,
    and otherwise waits for a release. For live calls, acquire(create=False) only waits for an
    idle one, never paying the creation cost in the caller's time; a background thread keeps
    keep_spare idle recognisers per mode (up to max_per_mode) and runs prefill()."""

    def __init__(self, model: Any, grammars: Mapping[str, str | None], *,
                 warm: int | Mapping[str, int] = 1,
                 max_per_mode: int = 8, max_alternatives: int | Mapping[str, int] = ALTERNATIVES,
                 warmup_seconds: float = 2.0, keep_spare: int = 0) -> None:
        self.model = model
        self.max_per_mode = max_per_mode
        self.keep_spare = keep_spare
        self._pending: dict[str, int] = dict.fromkeys(grammars, 0)
        self._grower: ThreadPoolExecutor | None = None
        self.max_alternatives = max_alternatives
        self.warmup_audio = speechlike(warmup_seconds) if warmup_seconds > 0 else b""
        self._slots = {mode: _Slot(grammar) for mode, grammar in grammars.items()}
        self._cond = threading.Condition()
        for mode in self._slots:
            # warm: recognisers made now, for every mode or per mode (others get 1).
            for _ in range(warm if isinstance(warm, int) else warm.get(mode, 1)):
                self._slots[mode].idle.append(self._create(mode))
                self._slots[mode].total += 1

    @property
    def modes(self) -> list[str]:
        return list(self._slots)

    def _create(self, mode: str) -> Recognizer:
        started = time.perf_counter()
        # max_alternatives: for every mode, or per mode (others get ALTERNATIVES).
        alternatives = self.max_alternatives if isinstance(self.max_alternatives, int) \
            else self.max_alternatives.get(mode, ALTERNATIVES)
        rec = Recognizer(self.model, mode, self._slots[mode].grammar, alternatives)
        if self.warmup_audio:
            rec.decode(self.warmup_audio)
        log.debug("created %s recogniser in %.2f s", mode, time.perf_counter() - started)
        return rec

    def sizes(self) -> dict[str, dict[str, int]]:
        """Per mode: recognisers made and how many are idle."""
        with self._cond:
            return {mode: {"total": slot.total, "idle": len(slot.idle)}
                    for mode, slot in self._slots.items()}

    def prefill(self, per_mode: int, modes: Collection[str] | None = None) -> None:
        """Create recognisers in the background until each mode (of modes, default all) has
        per_mode of them."""
        with self._cond:
            for mode in self._slots:
                if modes is None or mode in modes:
                    self._grow(mode, per_mode)

    def close(self) -> None:
        if self._grower is not None:
            self._grower.shutdown(wait=False, cancel_futures=True)

    def _grow(self, mode: str, target_total: int | None = None) -> None:
        """(lock held) Queue creations: to target_total, or to keep_spare idle recognisers."""
        slot = self._slots[mode]
        while slot.total + self._pending[mode] < self.max_per_mode and (
                (target_total is not None and slot.total + self._pending[mode] < target_total)
                or len(slot.idle) + self._pending[mode] < self.keep_spare):
            if self._grower is None:
                self._grower = ThreadPoolExecutor(1, thread_name_prefix="asr-grow")
            self._pending[mode] += 1
            self._grower.submit(self._add, mode)

    def _add(self, mode: str) -> None:
        try:
            rec = self._create(mode)
        except Exception:
            log.exception("could not create a %s recogniser", mode)
            with self._cond:
                self._pending[mode] -= 1
            return
        with self._cond:
            self._pending[mode] -= 1
            self._slots[mode].total += 1
            self._slots[mode].idle.append(rec)
            self._cond.notify_all()

    def acquire(self, mode: str, timeout: float | None = None, create: bool = True
                ) -> Recognizer:
        if mode not in self._slots:
            raise KeyError(f"unknown recogniser mode {mode!r}; known: {', '.join(self._slots)}")
        slot = self._slots[mode]
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if not create:
                while not slot.idle:
                    self._grow(mode)
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError(f"no {mode} recogniser free within {timeout} s")
                    self._cond.wait(left)
                rec = slot.idle.pop()
                self._grow(mode)
                return rec
            while not slot.idle and slot.total >= self.max_per_mode:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"no {mode} recogniser free within {timeout} s")
                self._cond.wait(left)
            if slot.idle:
                return slot.idle.pop()
            slot.total += 1
        try:
            return self._create(mode)
        except BaseException:
            with self._cond:
                slot.total -= 1
                self._cond.notify_all()
            raise

    def release(self, rec: Recognizer) -> None:
        rec.reset()
        with self._cond:
            self._slots[rec.mode].idle.append(rec)
            self._cond.notify_all()

    @contextmanager
    def lease(self, mode: str, timeout: float | None = None) -> Iterator[Recognizer]:
        rec = self.acquire(mode, timeout)
        try:
            yield rec
        finally:
            self.release(rec)

    def decode(self, mode: str, pcm: bytes) -> Transcript:
        with self.lease(mode) as rec:
            return rec.decode(pcm)


def pool_for(model_dir: Path | None = None, *, stations: Sequence[str] = (),
             **kwargs: Any) -> RecognizerPool:
    """A pool with the standard modes (free, intent grammar, entity grammar) on the installed
    model; station names join the entity grammar."""
    from app.asr.grammars import standard_grammars
    from app.asr.model import load_model, model_path
    from app.asr.shapes import SHAPE_ALTERNATIVES, SHAPES
    from app.asr.vocab import load_vocabulary

    path = model_dir or model_path()
    model = load_model(path)
    kwargs.setdefault("max_alternatives",
                      {shape.mode: SHAPE_ALTERNATIVES for shape in SHAPES.values()})
    return RecognizerPool(model, standard_grammars(load_vocabulary(path), stations), **kwargs)
